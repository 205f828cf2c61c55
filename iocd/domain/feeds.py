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

from iocd.domain.principal import Principal, PrincipalKind, Role
from iocd.domain.scope import check_group_names
from iocd.domain.types import (
    Action,
    IndicatorType,
    Severity,
    parse_action,
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


class FeedUnavailable(IocdError):
    """A feed could not be fetched or read (unreachable, an error status, a timeout, a body
    too large, truncated or malformed): the run fails and the feed's previous state stays."""
