"""Outputs for enforcement points: which indicators go into each one (domain.outputs).

`OutputService.select(request, principal)` answers a `Selection`: the entries to write, in id
order, streamed from the store in bounded memory. The rules, in order:

1. The view: active indicators of the output's types and enforced actions whose scope is all
   devices or one of the requested device groups (none requested: the view of a device in no
   group, i.e. the all-devices indicators). Unknown groups are refused.
2. Allowed indicators of the view are held in memory (`matching.allowed.AllowedList`; they are
   few) and drop each entry that precedence lets them win over for every requested group.
3. The cap: when the rest is larger, only the `cap` entries of highest `priority` (severity,
   then the most recently updated, then the lower id) are kept, chosen with a heap of `cap`
   entries (memory grows with the cap, not with the list); they are still written in id order.

Callers see everything the list holds (administrators, read-only users, organisation-wide
applications): an output is an organisation's enforcement data, so analysts and applications
limited to their own indicators are refused. `sequence` (read before the rows) only ever
understates what the rows hold, so a poller that sees it unchanged has nothing new to fetch.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

from iocd.clock import Clock
from iocd.domain.accounts import UNGROUPED
from iocd.domain.decision import Candidate, ListedIndicator, MatchKind
from iocd.domain.indicator import Indicator
from iocd.domain.outputs import (
    OutputEntry,
    OutputKind,
    OutputRequest,
    Selection,
    Tally,
    priority,
    spec_of,
)
from iocd.domain.principal import Principal
from iocd.domain.query import And, In, IndicatorQuery, Visibility
from iocd.domain.types import Action, IndicatorType
from iocd.errors import Forbidden, InvalidInput
from iocd.matching.allowed import AllowedList, allowed_wins, own_candidate
from iocd.matching.single import domain_keys
from iocd.policy.access import sight_for
from iocd.services.index_keeper import listed
from iocd.services.ports import Store

__all__ = ["OutputService", "entry_of"]

ID_CHUNK = 500


def entry_of(indicator: Indicator) -> OutputEntry:
    fields = indicator.fields
    return OutputEntry(
        id=indicator.id,
        indicator_type=fields.indicator_type,
        value=fields.value,
        action=fields.action,
        severity=fields.severity,
        title=fields.title,
        last_updated_at=indicator.last_updated_at,
        sequence=indicator.sequence,
    )


class OutputService:
    def __init__(
        self, store: Store, clock: Clock, sweep: Callable[[], object] | None = None
    ) -> None:
        """`sweep` records due expiries (IndicatorService.sweep_expired) before each answer,
        so the sequence a poller compares moves when an indicator expires."""
        self._store = store
        self._clock = clock
        self._sweep = sweep or (lambda: None)

    def groups(self) -> list[str]:
        """Every device group name (the choices of `group=`)."""
        with self._store.accounts(readonly=True) as tx:
            return [g.name for g in tx.list_groups()]

    def version(self) -> tuple[int, datetime | None]:
        """(change sequence, time of that change): what ETag and Last-Modified come from."""
        self._sweep()
        with self._store.transaction(readonly=True) as tx:
            sequence = tx.last_sequence()
            last = tx.changes_since(sequence - 1, 1) if sequence else []
        return sequence, (last[0].at if last else None)

    def check(self, request: OutputRequest, principal: Principal) -> tuple[str, ...]:
        """Refuse a caller who cannot read every indicator, and unknown device groups;
        answer the device groups of the view."""
        if sight_for(principal).kind is not Visibility.ALL:
            raise Forbidden(
                f"{principal.label} cannot read every indicator; outputs for enforcement "
                "points need an administrator, a read-only user or a Ti.ReadWrite.All application"
            )
        return self._view_groups(request.groups)

    def select(self, request: OutputRequest, principal: Principal) -> Selection:
        view = self.check(request, principal)
        sequence, changed_at = self.version()
        spec = spec_of(request)
        now = self._clock.now()
        allowed_types = set(spec.types)
        if IndicatorType.URL in allowed_types:
            allowed_types.add(IndicatorType.DOMAIN_NAME)  # a URL's host is matched too
        allowed = AllowedList(
            listed(i)
            for i in self._store.iterate(_query(allowed_types, {Action.ALLOWED}), now)
            if _in_view(i, view)
        )
        tally = Tally()
        eligible = self._eligible(spec.types, spec.actions, view, allowed, tally, now)
        omitted = 0
        if request.cap is not None:
            kept, omitted = _top(eligible, request.cap)
            entries: Iterator[OutputEntry] = iter(kept)
        else:
            entries = eligible
        passthru: Sequence[str] = ()
        if request.kind is OutputKind.RPZ and len(allowed):
            passthru = self._passthru(allowed, view, now)
        return Selection(request, sequence, changed_at, entries, view, omitted, passthru, tally)

    def _view_groups(self, requested: Sequence[str]) -> tuple[str, ...]:
        if not requested:
            return (UNGROUPED,)
        known = set(self.groups()) | {UNGROUPED}
        unknown = sorted(set(requested) - known)
        if unknown:
            raise InvalidInput(
                "group",
                f"unknown device group {', '.join(map(repr, unknown))}; known groups: "
                f"{', '.join(sorted(known))}",
            )
        return tuple(sorted(set(requested)))

    def _eligible(
        self,
        types: frozenset[IndicatorType],
        actions: frozenset[Action],
        view: tuple[str, ...],
        allowed: AllowedList,
        tally: Tally,
        now: datetime,
    ) -> Iterator[OutputEntry]:
        for indicator in self._store.iterate(_query(types, actions), now):
            if not _in_view(indicator, view):
                continue
            if len(allowed) and not allowed.enforced(listed(indicator), view):
                tally.exempted += 1
                continue
            yield entry_of(indicator)

    def _passthru(self, allowed: AllowedList, view: tuple[str, ...], now: datetime) -> list[str]:
        """Allowed domains that win for their own name against the blocks of that name and
        its parents: RPZ writes them as rpz-passthru (the name and its subdomains)."""
        names = sorted(
            {
                i.fields.value
                for i in self._store.iterate(
                    _query({IndicatorType.DOMAIN_NAME}, {Action.ALLOWED}), now
                )
                if _in_view(i, view)
            }
        )
        keys = sorted({key for name in names for key, _ in domain_keys(name)})
        blocks: dict[str, list[ListedIndicator]] = {}
        for start in range(0, len(keys), ID_CHUNK):
            chunk = tuple(keys[start : start + ID_CHUNK])
            where = And(
                (
                    In("indicatorType", (IndicatorType.DOMAIN_NAME.value,)),
                    In("indicatorValue", chunk),
                )
            )
            for indicator in self._store.iterate(IndicatorQuery(where=where), now):
                if indicator.fields.action is not Action.ALLOWED and _in_view(indicator, view):
                    blocks.setdefault(indicator.fields.value, []).append(listed(indicator))
        out = []
        for name in names:
            own = ListedIndicator(0, IndicatorType.DOMAIN_NAME, name, Action.BLOCK)
            candidates: list[Candidate] = allowed.candidates(own)
            for position, (key, _) in enumerate(domain_keys(name)):
                for block in blocks.get(key, ()):
                    candidate = own_candidate(block)
                    if position:  # a block on a parent matches the name as a parent domain
                        candidate = _as_parent(candidate)
                    candidates.append(candidate)
            if allowed_wins(candidates, view):
                out.append(name)
        return out


def _as_parent(candidate: Candidate) -> Candidate:
    return Candidate(candidate.indicator, MatchKind.PARENT_DOMAIN, candidate.specificity)


def _query(types: Iterable[IndicatorType], actions: Iterable[Action]) -> IndicatorQuery:
    where = And(
        (
            In("indicatorType", tuple(sorted(t.value for t in types))),
            In("action", tuple(sorted(a.value for a in actions))),
        )
    )
    return IndicatorQuery(where=where)


def _in_view(indicator: Indicator, view: tuple[str, ...]) -> bool:
    groups = indicator.fields.rbac_group_names
    return not groups or any(g in groups for g in view)


def _top(entries: Iterator[OutputEntry], cap: int) -> tuple[list[OutputEntry], int]:
    """The `cap` entries of highest priority, in id order, and how many were left out."""
    heap: list[tuple[tuple[int, float, int], OutputEntry]] = []
    seen = 0
    for entry in entries:
        seen += 1
        item = (priority(entry), entry)
        if len(heap) < cap:
            heapq.heappush(heap, item)
        elif cap and item[0] > heap[0][0]:
            heapq.heapreplace(heap, item)
    kept = sorted((entry for _, entry in heap), key=lambda e: e.id)
    return kept, seen - len(kept)
