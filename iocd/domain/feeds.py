"""Feeds: outside sources of indicators polled on a schedule, and the record of each run.

A feed owns the indicators it creates: their `createdBy` and `createdBySource` are
`Feed:<name>` (`owner`). It creates and updates only those, never one another feed or a
person holds, and withdraws them when they leave the feed. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from iocd.domain.indicator import format_datetime, parse_datetime
from iocd.domain.principal import Principal, PrincipalKind, Role
from iocd.domain.scope import check_group_names
from iocd.domain.types import (
    Action,
    IndicatorType,
    Severity,
    parse_action,
    parse_indicator_type,
    parse_severity,
)
from iocd.errors import InvalidInput, IocdError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_INTERVAL_SECONDS = 60
DEFAULT_INTERVAL_SECONDS = 3600
MAX_SKIP_SAMPLES = 100
"""Skipped items whose reason a run keeps (the count covers them all)."""


class FeedKind(StrEnum):
    TAXII = "taxii"
    MISP = "misp"
    LIST = "list"
    CSV = "csv"


class RunOutcome(StrEnum):
    OK = "ok"
    NOT_MODIFIED = "not-modified"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FeedDefaults:
    """What the feed decides for every indicator it creates (the source says only values)."""

    action: Action = Action.AUDIT
    severity: Severity | None = None
    expires_days: int | None = None
    """Days from a create (or a full pass) to expiry, when the item names none."""
    device_groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """How to read the source. `column` is a header name or a 1-based position (CSV);
    `comment` starts a comment line (and a trailing comment after white space in a list);
    `indicator_type` forces the type instead of detecting it from each value;
    `collection` is the TAXII collection id; `username` and `password_env` (the name of an
    environment variable holding the password, never the password) authenticate to TAXII and
    HTTP sources; `include_non_ids` takes MISP attributes whose to_ids is off."""

    column: str | None = None
    delimiter: str = ","
    comment: str = "#"
    header: bool | None = None
    """Whether the CSV's first row is a header: by default, when `column` is a name."""
    indicator_type: IndicatorType | None = None
    collection: str | None = None
    username: str | None = None
    password_env: str | None = None
    include_non_ids: bool = False

    @property
    def has_header(self) -> bool:
        if self.header is not None:
            return self.header
        return self.column is not None and not self.column.isdigit()


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the last good run leaves for the next: HTTP validators for a conditional request,
    the TAXII `added_after` cursor, each MISP event's timestamp, the token of the snapshot kept
    in the data directory (the base of the next diff), and when every value was last resent."""

    etag: str | None = None
    last_modified: str | None = None
    added_after: str | None = None
    event_timestamps: Mapping[str, str] = field(default_factory=dict)
    snapshot: str | None = None
    usable: int = 0
    """Values of the last good run that became indicators (or could have)."""
    full_pass_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Feed:
    id: int
    name: str
    kind: FeedKind
    url: str
    options: FeedOptions
    defaults: FeedDefaults
    cap: int | None
    interval_seconds: int
    enabled: bool
    created_at: datetime
    created_by: str
    state: FeedState = field(default_factory=FeedState)
    last_attempt_at: datetime | None = None
    running_since: datetime | None = None

    @property
    def owner(self) -> str:
        """The `createdBySource` (and `createdBy`) of the indicators this feed owns."""
        return feed_owner(self.name)

    def principal(self) -> Principal:
        """Who the feed acts as: an organisation-wide security administrator, through its own
        door."""
        return Principal(
            self.owner,
            Role.SECURITY_ADMINISTRATOR,
            self.owner,
            PrincipalKind.APPLICATION,
            display_name=f"Feed {self.name}",
        )

    def due(self, now: datetime) -> bool:
        if not self.enabled:
            return False
        if self.last_attempt_at is None:
            return True
        return now - self.last_attempt_at >= timedelta(seconds=self.interval_seconds)

    def full_pass_due(self, now: datetime) -> bool:
        """Every value is resent (refreshing expiries, retrying skipped items) once half the
        expiry has passed since the last full pass, or weekly without an expiry."""
        last = self.state.full_pass_at
        if last is None:
            return True
        days = self.defaults.expires_days
        period = timedelta(days=days / 2) if days else timedelta(days=7)
        return now - last >= period

    def expiry_for(self, now: datetime) -> datetime | None:
        days = self.defaults.expires_days
        return None if not days else (now + timedelta(days=days)).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class FeedRun:
    """One run of a feed. `fetched` counts the items the source holds; the others count what
    this run did: indicators created (`added`), changed, withdrawn, left as they were
    (`unchanged`, also the items the diff found unchanged), and items left out (`skipped`:
    invalid, owned by another, over the cap, refused), of which `skip_reasons` keeps a sample."""

    id: int
    feed_id: int
    feed_name: str
    started_at: datetime
    finished_at: datetime
    outcome: RunOutcome
    fetched: int = 0
    added: int = 0
    updated: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    skipped: int = 0
    skip_reasons: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    full: bool = False

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class NewFeed:
    """What `iocd feeds add`, the API and the portal ask for (checked by FeedService.add)."""

    name: str
    kind: FeedKind
    url: str
    options: FeedOptions
    defaults: FeedDefaults
    cap: int | None = None
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    enabled: bool = True


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


def feed_owner(name: str) -> str:
    return f"Feed:{name}"


def check_feed_name(raw: str) -> str:
    name = raw.strip()
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            "name", "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def parse_kind(raw: str) -> FeedKind:
    try:
        return FeedKind(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(k.value for k in FeedKind)
        raise InvalidInput("kind", f"{raw!r} is not one of {allowed}") from None


def check_url(kind: FeedKind, raw: str) -> str:
    url = raw.strip()
    if not url:
        raise InvalidInput("url", "is required", "MissingRequiredParameter")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if kind is FeedKind.TAXII and scheme not in ("http", "https"):
        raise InvalidInput("url", "a TAXII collection is an http(s) URL")
    if scheme not in ("http", "https", "file") and not url.startswith("/"):
        raise InvalidInput("url", "must be an http(s) or file URL, or an absolute path")
    return url


def check_options(kind: FeedKind, options: FeedOptions) -> FeedOptions:
    if kind is FeedKind.CSV and not options.column:
        raise InvalidInput("column", "a CSV feed needs the value column (a header name or number)")
    if options.column is not None and options.column.isdigit() and int(options.column) < 1:
        raise InvalidInput("column", "positions count from 1")
    if len(options.delimiter) != 1:
        raise InvalidInput("delimiter", "must be one character")
    if not options.comment.strip():
        raise InvalidInput("comment", "must not be empty")
    if kind is FeedKind.TAXII and not options.collection:
        raise InvalidInput("collection", "a TAXII feed needs the collection id")
    return options


def check_numbers(cap: int | None, interval_seconds: int, expires_days: int | None) -> None:
    if cap is not None and cap < 1:
        raise InvalidInput("cap", "must be at least 1")
    if interval_seconds < MIN_INTERVAL_SECONDS:
        raise InvalidInput("interval", f"must be at least {MIN_INTERVAL_SECONDS} seconds")
    if expires_days is not None and expires_days < 1:
        raise InvalidInput("expiresDays", "must be at least 1 day")


def make_defaults(
    action: Action | str,
    severity: Severity | str | None,
    expires_days: int | None,
    device_groups: tuple[str, ...] | list[str],
) -> FeedDefaults:
    chosen = action if isinstance(action, Action) else parse_action(action)
    if isinstance(severity, str) and not isinstance(severity, Severity):
        severity = parse_severity(severity) if severity.strip() else None
    return FeedDefaults(chosen, severity, expires_days, check_group_names(device_groups))


# -- wire forms (JSON in the store, the API and the CLI) -----------------------------------------


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


class FeedUnavailable(IocdError):
    """A feed could not be fetched or read (unreachable, an error status, a timeout, a body
    too large, truncated or malformed): the run fails and the feed's previous state stays."""
