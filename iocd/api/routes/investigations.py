"""Automated investigations (iocd extension, docs/investigations.md): external verdicts in,
investigations out, and the remediation tasks agents fetch and report on.

- `POST /api/verdicts`: another scanner's verdict -> alert + investigation (administrators and
  Ti.ReadWrite.All applications);
- `GET /api/investigations` (`$top`, `$skip`, `$count`, `$filter=status eq 'Running'`) and
  `GET /api/investigations/{id}` (with its tasks); analysts see their device groups only;
- `GET /api/agents/tasks` and `POST /api/agents/tasks/{id}` (device credential).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Query, Request

from iocd.api.deps import Agent, Caller, Iocd, JsonBody
from iocd.api.odata import parse_count, parse_skip, parse_top, split_query
from iocd.domain.investigations import (
    Investigation,
    RemediationTask,
    investigation_to_wire,
    parse_task_result,
    task_to_wire,
)
from iocd.domain.verdicts import parse_verdict
from iocd.errors import InvalidInput, NotFound

router = APIRouter(tags=["investigations"])
agent_router = APIRouter(prefix="/agents", tags=["agents"])
DEFAULT_PAGE = 100
_STATUS_FILTER = re.compile(r"^\s*status\s+eq\s+'(\w+)'\s*$")


def wire(item: Investigation, tasks: list[RemediationTask] | None = None) -> dict[str, Any]:
    out = investigation_to_wire(item)
    if tasks is not None:
        out["tasks"] = [task_to_wire(t) for t in tasks]
    return out


def _id(raw: str, what: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"{what} {raw} not found")
    return int(raw)


@router.post("/verdicts", summary="Post another detector's verdict: opens an investigation")
def post_verdict(principal: Caller, iocd: Iocd, body: JsonBody) -> dict[str, Any]:
    verdict = parse_verdict(body, iocd.clock.now())
    item = iocd.investigations.submit_verdict(principal, verdict)
    return wire(*iocd.investigations.get(principal, item.id))


@router.get("/investigations", summary="List investigations ($top, $skip, $count, status)")
def list_investigations(
    request: Request,
    principal: Caller,
    iocd: Iocd,
    filter_: str | None = Query(None, alias="$filter", description="status eq 'Running'"),
    top: str | None = Query(None, alias="$top"),
    skip: str | None = Query(None, alias="$skip"),
    count: str | None = Query(None, alias="$count"),
) -> dict[str, Any]:
    options = split_query(request.scope.get("query_string", b"").decode("latin-1"))
    status = None
    if options.get("$filter", "").strip():
        matched = _STATUS_FILTER.match(options["$filter"])
        if matched is None:
            raise InvalidInput("$filter", "only status eq '<status>' is supported", "ODataError")
        status = matched.group(1)
    page_size = parse_top(options["$top"]) if "$top" in options else DEFAULT_PAGE
    offset = parse_skip(options["$skip"]) if "$skip" in options else 0
    page = iocd.investigations.list(principal, status, page_size, offset)
    body: dict[str, Any] = {"value": [wire(i) for i in page.items]}
    if "$count" in options and parse_count(options["$count"]):
        body["@odata.count"] = page.total
    return body


@router.get("/investigations/{investigation_id}", summary="One investigation with its tasks")
def get_investigation(investigation_id: str, principal: Caller, iocd: Iocd) -> dict[str, Any]:
    target = _id(investigation_id, "investigation")
    return wire(*iocd.investigations.get(principal, target))


@router.get("/alerts/{alert_id}/investigation", summary="The investigation of an alert")
def alert_investigation(alert_id: str, principal: Caller, iocd: Iocd) -> dict[str, Any]:
    found = iocd.investigations.for_alert(principal, _id(alert_id, "alert"))
    if found is None:
        raise NotFound(f"alert {alert_id} has no investigation yet")
    return wire(*iocd.investigations.get(principal, found.id))


@agent_router.get("/tasks", summary="This device's open remediation tasks")
def agent_tasks(device: Agent, iocd: Iocd) -> dict[str, Any]:
    return {"value": [task_to_wire(t) for t in iocd.remediation.tasks_for(device)]}


@agent_router.post("/tasks/{task_id}", summary="Report a remediation task's result")
def agent_task_result(task_id: str, device: Agent, iocd: Iocd, body: JsonBody) -> dict[str, Any]:
    result = parse_task_result(body)
    return task_to_wire(iocd.remediation.report(device, _id(task_id, "task"), result))
