"""The TAXII 2.1 use cases: page through a collection, read one object and its versions, add
objects (with a status resource), delete one. Every call is checked against the caller's role
and device groups, like the rest of the API.

Order and paging: a collection is served in change-sequence order (domain.versions), one
version per indicator, the latest; the page cursor is the sequence value of the last version
sent, so paging never skips a change made meanwhile (a changed indicator comes again later)
and a page costs the same at any depth. `date_added` is the time of that change.

`added_after`: the versions whose change is later than the instant. The first page finds its
starting point in the change sequence by bisection (change times follow the sequence, give or
take DISORDER: the expiry sweep's lag and clock skew between processes), so it never scans
the history before it. Expiries are dated at the expiration time and recorded by the sweep a
moment later; so that a reader polling with its last `date_added` never misses one, expiries
up to EXPIRY_GRACE older than `added_after` are served again.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from iocd.clock import Clock
from iocd.domain.indicator import IndicatorDraft, IndicatorFields
from iocd.domain.principal import Principal, Role
from iocd.domain.query import And, Compare, Expr, In, IndicatorQuery, Op
from iocd.domain.versions import Version, VersionQuery
from iocd.errors import Forbidden, InvalidInput, NotFound
from iocd.policy.access import sight_for
from iocd.services.indicators import IndicatorService
from iocd.services.ports import Store, StoreTransaction
from iocd.services.taxii_collections import (
    COLLECTIONS,
    Collection,
    Filters,
    find_collection,
    is_withdrawn,
    modified_of,
)

__all__ = [
    "COLLECTIONS",
    "Collection",
    "Filters",
    "PageRequest",
    "Served",
    "ServedPage",
    "Status",
    "StixIds",
    "Submitted",
    "TaxiiService",
]

EXPIRY_GRACE = timedelta(minutes=5)
DISORDER = timedelta(hours=1)
DEFAULT_PAGE = 1_000
MAX_PAGE = 10_000
KEPT_STATUSES = 1_000
CHUNK = 5_000
"""Indicators stored per transaction when an envelope names many."""


class StixIds(Protocol):
    """STIX ids of indicators and back (codecs.stix_ids): the id is derived from the indicator
    id one way (a hash), so finding the indicator needs a directory."""

    def stix_id(self, indicator_id: int) -> str: ...

    def indicator_id(self, stix_id: str, newest_id: int) -> int | None:
        """The indicator behind a STIX id, among ids up to `newest_id`; None if none."""
        ...


@dataclass(frozen=True, slots=True)
class PageRequest:
    filters: Filters = field(default_factory=Filters)
    after: int | None = None
    """The cursor: the sequence value of the last version of the previous page."""
    limit: int = DEFAULT_PAGE


@dataclass(frozen=True, slots=True)
class Served:
    """One version as served: `modified` identifies it; `withdrawn` marks a revoked one."""

    version: Version
    modified: datetime
    withdrawn: bool

    @property
    def date_added(self) -> datetime:
        return self.version.change.at


@dataclass(frozen=True, slots=True)
class ServedPage:
    items: list[Served]
    more: bool
    next: int | None


@dataclass(frozen=True, slots=True)
class Submitted:
    """One object of an envelope, read by the door: its id and version, and the indicator
    fields it names (or why each could not be read); `failure` when the object as a whole
    cannot be stored (not an indicator, a pattern that names no value...)."""

    stix_id: str
    version: str
    rows: tuple[IndicatorFields | str, ...] = ()
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    stix_id: str
    version: str
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    """What became of one add-objects request. Writes are applied before the answer, so a
    status is always complete."""

    id: str
    owner: str
    requested_at: datetime
    successes: tuple[Outcome, ...]
    failures: tuple[Outcome, ...]

    @property
    def total(self) -> int:
        return len(self.successes) + len(self.failures)


def can_write(principal: Principal) -> bool:
    return principal.role is not Role.READ_ONLY and not principal.telemetry_only


class TaxiiService:
    def __init__(
        self,
        store: Store,
        indicators: IndicatorService,
        clock: Clock,
        ids: StixIds,
        *,
        kept_statuses: int = KEPT_STATUSES,
    ) -> None:
        self._store = store
        self._indicators = indicators
        self._clock = clock
        self._ids = ids
        self._kept = kept_statuses
        self._statuses: OrderedDict[str, Status] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def collections() -> tuple[Collection, ...]:
        return COLLECTIONS

    @staticmethod
    def collection(key: str) -> Collection:
        return find_collection(key)

    # -- reads ----------------------------------------------------------------------------

    def page(
        self, collection: Collection, request: PageRequest, principal: Principal
    ) -> ServedPage:
        """One page of the collection's latest versions that the caller may see."""
        limit = request.limit
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
        filters = request.filters
        if filters.excludes_everything():
            return ServedPage([], False, None)
        with self._store.transaction(readonly=True) as tx:
            ids = self._indicator_ids(tx, filters.ids)
            if ids == ():
                return ServedPage([], False, None)
            query = VersionQuery(
                after_sequence=self._start(tx, request),
                changed_after=filters.added_after,
                expired_after=filters.added_after - EXPIRY_GRACE if filters.added_after else None,
                where=_where(collection, ids),
                sight=sight_for(principal),
                limit=limit + 1,
            )
            found = tx.versions(query)
        more = len(found) > limit
        kept = found[:limit]
        served = [_served(v) for v in kept]
        return ServedPage(
            [s for s in served if filters.keeps_version(s.modified)],
            more,
            kept[-1].change.sequence if more else None,
        )

    def object(
        self, collection: Collection, stix_id: str, request: PageRequest, principal: Principal
    ) -> ServedPage:
        """The versions of one object (one: the latest). NotFound if the collection does not
        hold it or the filters leave nothing; Forbidden (audited) outside the caller's sight."""
        self._check_sight(stix_id, principal)
        scoped = PageRequest(
            Filters(
                request.filters.added_after,
                (stix_id,),
                request.filters.types,
                request.filters.spec_versions,
                request.filters.version_keywords,
                request.filters.version_times,
            ),
            request.after,
            request.limit,
        )
        page = self.page(collection, scoped, principal)
        if not page.items:
            raise NotFound(f"object {stix_id} not found in collection {collection.alias}")
        return page

    def _check_sight(self, stix_id: str, principal: Principal) -> int:
        with self._store.transaction(readonly=True) as tx:
            found = self._indicator_ids(tx, (stix_id,))
        if not found:
            raise NotFound(f"object {stix_id} not found")
        self._indicators.get(found[0], principal)  # Forbidden, audited, outside its sight
        return found[0]

    def _indicator_ids(
        self, tx: StoreTransaction, stix_ids: Sequence[str]
    ) -> tuple[int, ...] | None:
        """The indicator ids behind match[id] (None: no id filter; () none of them exists)."""
        if not stix_ids:
            return None
        if len(stix_ids) > MAX_PAGE:
            raise InvalidInput("match[id]", f"names more than {MAX_PAGE} ids")
        newest = _newest_id(tx, self._clock.now())
        found = (self._ids.indicator_id(s, newest) for s in dict.fromkeys(stix_ids))
        return tuple(i for i in found if i is not None)

    def _start(self, tx: StoreTransaction, request: PageRequest) -> int:
        """Where in the change sequence the page starts: after the cursor, and never before
        the changes that can be later than `added_after`."""
        start = request.after or 0
        instant = request.filters.added_after
        if instant is not None:
            start = max(start, _last_sequence_at_or_before(tx, instant - EXPIRY_GRACE - DISORDER))
        return start

    # -- writes ---------------------------------------------------------------------------

    def add(
        self, collection: Collection, objects: Sequence[Submitted], principal: Principal
    ) -> Status:
        """Store the indicators the objects name; each object succeeds or fails alone (an
        object whose pattern names several values fails if any of them fails). Committed in
        chunks of CHUNK indicators, like a file import."""
        if not can_write(principal):
            raise Forbidden(f"{principal.label} may read the TAXII collections but not write")
        problems: dict[int, list[str]] = {}
        numbers: list[int] = []
        drafts: list[IndicatorDraft] = []
        for number, item in enumerate(objects):
            reasons = problems.setdefault(number, [])
            if item.failure is not None:
                reasons.append(item.failure)
            elif not item.rows:
                reasons.append("the object names no indicator")
            for row in item.rows:
                if isinstance(row, str):
                    reasons.append(row)
                else:
                    numbers.append(number)
                    drafts.append(IndicatorDraft(row))
        for first in range(0, len(drafts), CHUNK):
            chunk = drafts[first : first + CHUNK]
            results = self._indicators.import_batch(chunk, principal, max_batch=len(chunk))
            for number, result in zip(numbers[first : first + CHUNK], results, strict=True):
                if result.error is not None:
                    problems[number].append(result.error.message)
        successes, failures = [], []
        for number, item in enumerate(objects):
            if problems[number]:
                failures.append(Outcome(item.stix_id, item.version, "; ".join(problems[number])))
            else:
                successes.append(Outcome(item.stix_id, item.version))
        status = Status(
            str(uuid.uuid4()),
            principal.name,
            self._clock.now(),
            tuple(successes),
            tuple(failures),
        )
        self._keep(status)
        return status

    def status(self, status_id: str, principal: Principal) -> Status:
        """A status this caller created (statuses are kept in memory, the newest
        KEPT_STATUSES of them)."""
        with self._lock:
            found = self._statuses.get(status_id)
        if found is None or found.owner != principal.name:
            raise NotFound(f"status {status_id} not found")
        return found

    def _keep(self, status: Status) -> None:
        with self._lock:
            self._statuses[status.id] = status
            while len(self._statuses) > self._kept:
                self._statuses.popitem(last=False)

    def delete(self, collection: Collection, stix_id: str, principal: Principal) -> None:
        """Delete the indicator behind an object of the collection (a new, revoked version)."""
        indicator_id = self._check_sight(stix_id, principal)
        self.object(collection, stix_id, PageRequest(limit=1), principal)
        self._indicators.delete(indicator_id, principal)


def _served(version: Version) -> Served:
    return Served(version, modified_of(version), is_withdrawn(version))


def _where(collection: Collection, ids: tuple[int, ...] | None) -> Expr | None:
    terms: list[Expr] = []
    if collection.action is not None:
        terms.append(Compare("action", Op.EQ, collection.action.value))
    if ids is not None:
        terms.append(In("id", ids))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else And(tuple(terms))


def _newest_id(tx: StoreTransaction, now: datetime) -> int:
    newest = tx.list(IndicatorQuery(order_by=(("id", True),), top=1, include_inactive=True), now)
    return newest[0].id if newest else 0


def _last_sequence_at_or_before(tx: StoreTransaction, instant: datetime) -> int:
    """The last sequence value whose change is at or before `instant` (0 if none), found by
    bisection over the change sequence (its times follow it, within DISORDER)."""
    low, high = 0, tx.last_sequence() + 1
    while high - low > 1:
        middle = (low + high) // 2
        probe = tx.changes_since(middle - 1, 1)
        if not probe or probe[0].sequence >= high or probe[0].at > instant:
            high = middle
        else:
            low = probe[0].sequence
    return low
