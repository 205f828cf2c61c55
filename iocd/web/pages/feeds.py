"""Feeds in the portal (docs/feeds.md):

- `/feeds`: every feed with its last run; administrators get the form to add one;
- `/feeds/{name}`: the feed, its settings and its run history with skip reasons;
- POST `/feeds/{name}/run` runs it in the background (a feed never overlaps itself), and
  `/feeds/{name}/enable`, `/disable`, `/remove` do what they say.

FeedService checks every write: adding, running and removing need a global or security
administrator.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from iocd.domain import instants
from iocd.domain.feeds import (
    DEFAULT_INTERVAL_SECONDS,
    FeedKind,
    FeedOptions,
    NewFeed,
    make_defaults,
    parse_kind,
)
from iocd.domain.principal import Principal, Role
from iocd.domain.types import Action, IndicatorType, Severity, parse_indicator_type
from iocd.errors import Conflict, Forbidden, InvalidInput, IocdError
from iocd.web.deps import CurrentUser, instance, redirect, render

router = APIRouter()
log = logging.getLogger("iocd.feeds")
Text = Annotated[str, Form(max_length=4096)]
FEED_ADMINS = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.SECURITY_ADMINISTRATOR})


def _number(field: str, raw: str) -> int | None:
    text = raw.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput(field, "must be a whole number")
    return int(text)


def _list_page(
    request: Request, user: Principal, *, status_code: int = 200, **extra: Any
) -> Response:
    context: dict[str, Any] = {"form": {}, "error": None}
    context.update(extra)
    return render(
        request,
        "feeds/list.html",
        status_code=status_code,
        nav="feeds",
        title="Feeds",
        rows=instance(request).feeds.list(user),
        can_manage=user.role in FEED_ADMINS,
        kinds=[k.value for k in FeedKind],
        actions=[a.value for a in Action],
        severities=[s.value for s in Severity],
        types=[t.value for t in IndicatorType],
        default_interval=DEFAULT_INTERVAL_SECONDS,
        **context,
    )


@router.get("/feeds")
def feeds_page(request: Request, user: CurrentUser) -> Response:
    return _list_page(request, user)


@router.post("/feeds")
def add_feed(
    request: Request,
    user: CurrentUser,
    name: Text = "",
    url: Text = "",
    kind: Text = "list",
    action: Text = "Audit",
    severity: Text = "",
    expires_days: Text = "",
    groups: Text = "",
    cap: Text = "",
    interval: Text = "",
    column: Text = "",
    delimiter: Text = ",",
    comment: Text = "#",
    indicator_type: Text = "",
    collection: Text = "",
    username: Text = "",
    password_env: Text = "",
    include_non_ids: Text = "",
) -> Response:
    form = {
        "name": name,
        "url": url,
        "kind": kind,
        "action": action,
        "severity": severity,
        "expires_days": expires_days,
        "groups": groups,
        "cap": cap,
        "interval": interval,
        "column": column,
        "delimiter": delimiter,
        "comment": comment,
        "indicator_type": indicator_type,
        "collection": collection,
        "username": username,
        "password_env": password_env,
        "include_non_ids": include_non_ids,
    }
    try:
        options = FeedOptions(
            column=column.strip() or None,
            delimiter="\t" if delimiter in ("\\t", "tab") else (delimiter or ","),
            comment=comment.strip() or "#",
            indicator_type=parse_indicator_type(indicator_type) if indicator_type else None,
            collection=collection.strip() or None,
            username=username.strip() or None,
            password_env=password_env.strip() or None,
            include_non_ids=bool(include_non_ids),
        )
        new = NewFeed(
            name=name,
            kind=parse_kind(kind),
            url=url,
            options=options,
            defaults=make_defaults(
                action,
                severity or None,
                _number("expiresDays", expires_days),
                [g for g in groups.split(",") if g.strip()],
            ),
            cap=_number("cap", cap),
            interval_seconds=_number("interval", interval) or DEFAULT_INTERVAL_SECONDS,
        )
        feed = instance(request).feeds.add(user, new)
    except (InvalidInput, Conflict, Forbidden) as error:
        status = {Conflict: 409, Forbidden: 403}.get(type(error), 400)
        return _list_page(request, user, status_code=status, error=error.message, form=form)
    return redirect(
        f"/feeds/{feed.name}",
        flash=f"Feed {feed.name} added; run it now or let iocd poll it.",
        category="success",
    )


@router.get("/feeds/{name}")
def feed_page(request: Request, user: CurrentUser, name: str, started: str = "") -> Response:
    """The feed and its runs. After "Run now" (`started`: when it was asked, in microseconds
    since the epoch) the page reloads itself every two seconds until that run is listed, for at
    most WAIT_FOR_RUN; and while a run is going on."""
    iocd = instance(request)
    feed = iocd.feeds.get(user, name)
    runs = iocd.feeds.history(user, name, 50)
    now = iocd.clock.now()
    asked = _instant(started)
    waiting = (
        asked is not None
        and now - asked < WAIT_FOR_RUN
        and (not runs or runs[0].started_at < asked)
    )
    return render(
        request,
        "feeds/feed.html",
        nav="feeds",
        title=f"Feed {feed.name}",
        feed=feed,
        runs=runs,
        can_manage=user.role in FEED_ADMINS,
        refreshing=waiting or feed.running_since is not None,
    )


WAIT_FOR_RUN = timedelta(minutes=10)


def _instant(micros: str) -> datetime | None:
    try:
        return instants.from_micros(int(micros))
    except (ValueError, OverflowError):
        return None


def _run_in_background(request: Request, user: Principal, name: str, full: bool) -> None:
    service = instance(request).feeds

    def work() -> None:
        try:
            service.run(user, name, full=full)
        except IocdError as error:
            log.warning("feed %s: %s", name, error.message)

    threading.Thread(target=work, name=f"feed-{name}", daemon=True).start()


@router.post("/feeds/{name}/run")
def run_feed(request: Request, user: CurrentUser, name: str, full: Text = "") -> Response:
    feed = instance(request).feeds.get(user, name)
    if user.role not in FEED_ADMINS:
        raise Forbidden("running a feed needs a global or security administrator")
    asked = instants.micros(instance(request).clock.now())
    _run_in_background(request, user, feed.name, bool(full))
    return redirect(
        f"/feeds/{feed.name}?started={asked}",
        flash=f"Feed {feed.name} is running; its run appears below when it ends.",
        category="success",
    )


@router.post("/feeds/{name}/enable")
def enable_feed(request: Request, user: CurrentUser, name: str) -> Response:
    feed = instance(request).feeds.set_enabled(user, name, True)
    return redirect(f"/feeds/{feed.name}", flash=f"Feed {feed.name} enabled.")


@router.post("/feeds/{name}/disable")
def disable_feed(request: Request, user: CurrentUser, name: str) -> Response:
    feed = instance(request).feeds.set_enabled(user, name, False)
    return redirect(f"/feeds/{feed.name}", flash=f"Feed {feed.name} disabled.")


@router.post("/feeds/{name}/remove")
def remove_feed(request: Request, user: CurrentUser, name: str, withdraw: Text = "") -> Response:
    count = instance(request).feeds.remove(user, name, withdraw=bool(withdraw))
    note = f" and {count:,} of its indicators withdrawn" if withdraw else ""
    return redirect("/feeds", flash=f"Feed {name} removed{note}.", category="success")
