"""The list as a feed of versions: the newest version of each indicator, in change-sequence order.

A feed reader (TAXII) pages through the change sequence rather than by id, so that a reader
who remembers where it stopped never misses a change: an indicator changed after it was sent
comes again later in the order, as its new version. Every indicator appears once, at the
position of its latest change (the one whose sequence value it carries), whatever its state:
deleted and expired indicators are versions too, so readers learn of withdrawals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from iocd.domain.history import Change, ChangeKind
from iocd.domain.indicator import Indicator
from iocd.domain.query import Expr, Sight, matches, visible


@dataclass(frozen=True, slots=True)
class VersionQuery:
    """One page of versions, oldest change first.

    `after_sequence` is the keyset: only changes with a greater sequence value.
    `changed_after` keeps the versions whose change happened after that instant, and
    `expired_after`, when given, keeps expiries from that earlier instant on: an expiry is dated
    at the expiration time, which the sweep records a little later, so a reader polling with
    its last time still hears of it. `where` filters on indicator fields (domain.query),
    `sight` is what the caller may see.
    """

    after_sequence: int = 0
    changed_after: datetime | None = None
    expired_after: datetime | None = None
    where: Expr | None = None
    sight: Sight = field(default_factory=Sight)
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Version:
    """An indicator as its latest change left it; `change` dates it and orders it."""

    indicator: Indicator
    change: Change


def change_selected(query: VersionQuery, change: Change) -> bool:
    """Whether a change passes the query's sequence and time bounds (the in-memory engine; the
    SQL store says the same in SQL)."""
    if change.sequence <= query.after_sequence:
        return False
    if query.changed_after is None or change.at > query.changed_after:
        return True
    return (
        query.expired_after is not None
        and change.kind is ChangeKind.EXPIRED
        and change.at > query.expired_after
    )


def version_selected(query: VersionQuery, version: Version) -> bool:
    """Whether a version (whose change passed `change_selected`) is the indicator's latest and
    passes the filter and the caller's sight."""
    indicator = version.indicator
    return (
        indicator.sequence == version.change.sequence
        and visible(query.sight, indicator)
        and (query.where is None or matches(query.where, indicator))
    )
