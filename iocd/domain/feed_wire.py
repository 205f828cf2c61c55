"""The JSON forms of feeds, their options, state and runs: the API's bodies and what the store
keeps in its JSON columns. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iocd.domain.feeds import (
    DEFAULT_INTERVAL_SECONDS,
    Feed,
    FeedDefaults,
    FeedOptions,
    FeedRun,
    FeedState,
    NewFeed,
    make_defaults,
    parse_kind,
)
from iocd.domain.indicator import format_datetime, parse_datetime
from iocd.domain.types import (
    Action,
    parse_indicator_type,
)
from iocd.errors import InvalidInput


def new_feed_from_wire(body: Any) -> NewFeed:
    """A feed to add from its JSON form (the API): the fields of `feed_to_wire` that a person
    chooses; InvalidInput naming the first bad one."""
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object", "InvalidRequestBody")
    for required in ("name", "kind", "url"):
        if not isinstance(body.get(required), str) or not body[required].strip():
            raise InvalidInput(required, "is required", "MissingRequiredParameter")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidInput("options", "must be a JSON object")
    groups = body.get("deviceGroups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidInput("deviceGroups", "must be a list of device group names")
    return NewFeed(
        name=body["name"],
        kind=parse_kind(body["kind"]),
        url=body["url"],
        options=options_from_wire(options),
        defaults=make_defaults(
            str(body.get("action") or Action.AUDIT.value),
            body.get("severity"),
            _whole("expiresDays", body.get("expiresDays")),
            groups,
        ),
        cap=_whole("cap", body.get("cap")),
        interval_seconds=_whole("intervalSeconds", body.get("intervalSeconds"))
        or DEFAULT_INTERVAL_SECONDS,
        enabled=bool(body.get("enabled", True)),
    )


def _whole(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, "must be a whole number")
    return value


def options_to_wire(options: FeedOptions) -> dict[str, Any]:
    return {
        "column": options.column,
        "delimiter": options.delimiter,
        "comment": options.comment,
        "header": options.header,
        "indicatorType": options.indicator_type.value if options.indicator_type else None,
        "collection": options.collection,
        "username": options.username,
        "passwordEnv": options.password_env,
        "includeNonIds": options.include_non_ids,
    }


def options_from_wire(data: Mapping[str, Any]) -> FeedOptions:
    kind = data.get("indicatorType")
    return FeedOptions(
        column=_text(data.get("column")),
        delimiter=str(data.get("delimiter") or ","),
        comment=str(data.get("comment") or "#"),
        header=data.get("header") if isinstance(data.get("header"), bool) else None,
        indicator_type=parse_indicator_type(kind) if kind else None,
        collection=_text(data.get("collection")),
        username=_text(data.get("username")),
        password_env=_text(data.get("passwordEnv")),
        include_non_ids=bool(data.get("includeNonIds", False)),
    )


def defaults_to_wire(defaults: FeedDefaults) -> dict[str, Any]:
    return {
        "action": defaults.action.value,
        "severity": defaults.severity.value if defaults.severity else None,
        "expiresDays": defaults.expires_days,
        "deviceGroups": list(defaults.device_groups),
    }


def defaults_from_wire(data: Mapping[str, Any]) -> FeedDefaults:
    return make_defaults(
        str(data.get("action") or Action.AUDIT.value),
        data.get("severity"),
        data.get("expiresDays"),
        list(data.get("deviceGroups") or ()),
    )


def state_to_wire(state: FeedState) -> dict[str, Any]:
    return {
        "etag": state.etag,
        "lastModified": state.last_modified,
        "addedAfter": state.added_after,
        "eventTimestamps": dict(state.event_timestamps),
        "snapshot": state.snapshot,
        "usable": state.usable,
        "fullPassAt": format_datetime(state.full_pass_at) if state.full_pass_at else None,
    }


def state_from_wire(data: Mapping[str, Any]) -> FeedState:
    full = data.get("fullPassAt")
    return FeedState(
        etag=_text(data.get("etag")),
        last_modified=_text(data.get("lastModified")),
        added_after=_text(data.get("addedAfter")),
        event_timestamps={str(k): str(v) for k, v in (data.get("eventTimestamps") or {}).items()},
        snapshot=_text(data.get("snapshot")),
        usable=int(data.get("usable") or 0),
        full_pass_at=parse_datetime("fullPassAt", full) if full else None,
    )


def feed_to_wire(feed: Feed, last_run: FeedRun | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": feed.id,
        "name": feed.name,
        "kind": feed.kind.value,
        "url": feed.url,
        "options": options_to_wire(feed.options),
        **defaults_to_wire(feed.defaults),
        "cap": feed.cap,
        "intervalSeconds": feed.interval_seconds,
        "enabled": feed.enabled,
        "owner": feed.owner,
        "createdAt": format_datetime(feed.created_at),
        "createdBy": feed.created_by,
        "lastAttemptAt": format_datetime(feed.last_attempt_at) if feed.last_attempt_at else None,
        "running": feed.running_since is not None,
    }
    if last_run is not None:
        out["lastRun"] = run_to_wire(last_run)
    return out


def run_to_wire(run: FeedRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "feed": run.feed_name,
        "startedAt": format_datetime(run.started_at),
        "finishedAt": format_datetime(run.finished_at),
        "outcome": run.outcome.value,
        "full": run.full,
        "fetched": run.fetched,
        "added": run.added,
        "updated": run.updated,
        "withdrawn": run.withdrawn,
        "unchanged": run.unchanged,
        "skipped": run.skipped,
        "skipReasons": [{"item": item, "reason": reason} for item, reason in run.skip_reasons],
        "error": run.error,
    }


def skip_reasons_from_wire(data: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(data, list):
        return ()
    return tuple(
        (str(entry.get("item", "")), str(entry.get("reason", "")))
        for entry in data
        if isinstance(entry, dict)
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
