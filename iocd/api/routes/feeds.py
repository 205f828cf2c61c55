"""Feeds (iocd extension, docs/feeds.md).

- `GET /api/feeds`: every feed with its last run;
- `POST /api/feeds`: add one (global or security administrators, Ti.ReadWrite.All apps);
- `GET /api/feeds/{name}`, `DELETE /api/feeds/{name}` (`?withdraw=true` withdraws its
  indicators too);
- `POST /api/feeds/{name}/run` (`?full=true`): run it now, answer the run;
- `GET /api/feeds/{name}/runs` (`$top`): its runs, newest first.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from iocd.api.deps import Caller, Iocd, JsonBody
from iocd.domain.feed_wire import feed_to_wire, new_feed_from_wire, run_to_wire

router = APIRouter(prefix="/feeds", tags=["feeds"])


def _flag(raw: str | None) -> bool:
    return (raw or "").strip().lower() in ("1", "true", "yes")


@router.get("", summary="List feeds with their last run")
def list_feeds(principal: Caller, iocd: Iocd) -> dict[str, Any]:
    rows = iocd.feeds.list(principal)
    return {"value": [feed_to_wire(feed, run) for feed, run in rows]}


@router.post("", summary="Add a feed")
def add_feed(principal: Caller, iocd: Iocd, body: JsonBody) -> dict[str, Any]:
    return feed_to_wire(iocd.feeds.add(principal, new_feed_from_wire(body)))


@router.get("/{name}", summary="One feed with its last run")
def get_feed(name: str, principal: Caller, iocd: Iocd) -> dict[str, Any]:
    feed = iocd.feeds.get(principal, name)
    runs = iocd.feeds.history(principal, name, 1)
    return feed_to_wire(feed, runs[0] if runs else None)


@router.delete("/{name}", status_code=204, summary="Remove a feed")
def remove_feed(
    name: str, principal: Caller, iocd: Iocd, withdraw: str | None = Query(None)
) -> Response:
    iocd.feeds.remove(principal, name, withdraw=_flag(withdraw))
    return Response(status_code=204)


@router.post("/{name}/run", summary="Run a feed now")
def run_feed(
    name: str, principal: Caller, iocd: Iocd, full: str | None = Query(None)
) -> dict[str, Any]:
    return run_to_wire(iocd.feeds.run(principal, name, full=_flag(full)))


@router.get("/{name}/runs", summary="A feed's runs, newest first")
def feed_runs(
    name: str, principal: Caller, iocd: Iocd, top: int = Query(50, alias="$top", ge=1, le=1000)
) -> dict[str, Any]:
    return {"value": [run_to_wire(r) for r in iocd.feeds.history(principal, name, top)]}
