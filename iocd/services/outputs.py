"""Outputs for enforcement points: which indicators go into each one (domain.outputs).

`OutputService.select(request, principal)` answers a `Selection`: the entries to write, in id
order, streamed from the store in bounded memory as chunks of plain row tuples (no object per
indicator). The rules, in order:

1. The view: active indicators of the output's types and enforced actions whose scope is all
   devices or one of the requested device groups (none requested: the view of a device in no
   group, i.e. the all-devices indicators). Unknown groups are refused. Types, actions, state
   and expiry are filtered by the store (`Store.output_rows`, a narrow read of a few fields);
   the device groups here, row by row (most rows are for all devices: one test).
2. Allowed indicators of the view are read once (the same narrow rows) and indexed by the
   values they could exempt. An entry is put through precedence
   (`matching.allowed.AllowedList`) only when one of its lookup keys (its value, a parent
   domain, a URL's host or a URL prefix under the same host, any address when an Allowed
   CIDR block exists) is such a value; the others cannot be exempted and pass untouched.
3. The cap: when the rest is larger, only the `cap` entries of highest `priority` (severity,
   then the most recently updated, then the lower id) are kept, chosen with numpy's lexsort
   over a buffer of at most about twice the cap (memory grows with the cap, not with the
   list); they are still written in id order.

Callers see everything the list holds (administrators, read-only users, organisation-wide
applications): an output is an organisation's enforcement data, so analysts and applications
limited to their own indicators are refused. `sequence` (read before the rows) only ever
understates what the rows hold, so a poller that sees it unchanged has nothing new to fetch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np

from iocd.clock import Clock
from iocd.domain.accounts import UNGROUPED
from iocd.domain.decision import Authority, Candidate, ListedIndicator, MatchKind
from iocd.domain.indicator import Indicator
from iocd.domain.outputs import (
    ACTION,
    ACTION_CODES,
    ID,
    SEQUENCE,
    SEVERITY,
    TYPE,
    TYPE_CODES,
    UPDATED,
    VALUE,
    EntryChunk,
    OutputEntry,
    OutputKind,
    OutputRequest,
    Selection,
    Tally,
    entries_of,
    spec_of,
)
from iocd.domain.principal import Principal
from iocd.domain.query import Visibility
from iocd.domain.scope import SEPARATOR
from iocd.domain.types import Action, IndicatorType
from iocd.errors import Forbidden, InvalidInput
from iocd.matching.allowed import AllowedList, allowed_wins, own_candidate
from iocd.matching.single import domain_keys, url_host, url_keys
from iocd.policy.access import sight_for
from iocd.services.ports import Store

__all__ = ["OutputService", "entry_of"]

BATCH = 50_000
"""Rows per store read (and at most per chunk the renderers write)."""
GROUPS, AUTHORITY = 8, 9
"""Positions of the device groups and the authority in the store's rows (Store.output_rows)."""
OutputRow = tuple[Any, ...]
_DOMAIN = TYPE_CODES.index(IndicatorType.DOMAIN_NAME)
_URL = TYPE_CODES.index(IndicatorType.URL)
_IP = TYPE_CODES.index(IndicatorType.IP_ADDRESS)


def entry_of(indicator: Indicator) -> OutputEntry:
    """An Indicator as an output entry."""
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
        allowed = _Allowed(self._rows(allowed_types, {Action.ALLOWED}, view, now), view)
        tally = Tally()
        suricata = request.kind is OutputKind.SURICATA
        details = suricata or request.cap is not None
        eligible: Iterator[list[OutputRow]] = (
            allowed.filter(rows, tally)
            for rows in self._rows(
                spec.types, spec.actions, view, now, titles=suricata, details=details
            )
        )
        omitted = 0
        if request.cap is not None:
            kept, omitted = _top(eligible, request.cap)
            eligible = iter(kept)
        passthru: Sequence[str] = ()
        if request.kind is OutputKind.RPZ and len(allowed):
            passthru = self._passthru(allowed, view, now)
        chunks = (EntryChunk(rows) for rows in eligible if rows)
        return Selection(
            request,
            sequence,
            changed_at,
            entries_of(chunks),
            view,
            omitted,
            passthru,
            tally,
            source=chunks,
        )

    def _rows(
        self,
        types: Iterable[IndicatorType],
        actions: Iterable[Action],
        view: tuple[str, ...],
        now: datetime,
        *,
        titles: bool = False,
        details: bool = False,
    ) -> Iterator[list[OutputRow]]:
        """The store's rows of these types and actions, kept to the view's device groups."""
        wire_types = sorted(t.value for t in types)
        wire_actions = sorted(a.value for a in actions)
        batches = self._store.output_rows(
            wire_types, wire_actions, now, titles=titles, details=details, batch=BATCH
        )
        groups = set(view)
        for rows in batches:
            kept = [r for r in rows if not r[GROUPS] or _in_view(r[GROUPS], groups)]
            if kept:
                yield kept

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

    def _passthru(self, allowed: _Allowed, view: tuple[str, ...], now: datetime) -> list[str]:
        """Allowed domains that win for their own name against the indicators of that name and
        its parents: RPZ writes them as rpz-passthru (the name and its subdomains)."""
        names = sorted(allowed.domains())
        keys = {key for name in names for key, _ in domain_keys(name)}
        others = {a for a in Action if a is not Action.ALLOWED}
        blocks: dict[str, list[ListedIndicator]] = {}
        if keys:
            for rows in self._rows({IndicatorType.DOMAIN_NAME}, others, view, now):
                for row in rows:
                    if row[VALUE] in keys:
                        blocks.setdefault(row[VALUE], []).append(_listed(row))
        out = []
        for name in names:
            found = [
                (position, block)
                for position, (key, _) in enumerate(domain_keys(name))
                for block in blocks.get(key, ())
            ]
            if not found:  # nothing else names it: its own Allowed indicator decides
                out.append(name)
                continue
            own = ListedIndicator(0, IndicatorType.DOMAIN_NAME, name, Action.BLOCK)
            candidates: list[Candidate] = allowed.list_for([own]).candidates(own)
            for position, block in found:
                candidate = own_candidate(block)
                if position:  # a block on a parent matches the name as a parent domain
                    candidate = _as_parent(candidate)
                candidates.append(candidate)
            if allowed_wins(candidates, view):
                out.append(name)
        return out


class _Allowed:
    """The Allowed indicators of a view, by the values they could exempt (their own; URLs
    without the scheme), with the hosts (and ports) of the Allowed URLs, and the Allowed CIDR
    blocks apart (those contain addresses rather than equal values)."""

    def __init__(self, batches: Iterable[list[OutputRow]], view: tuple[str, ...]) -> None:
        self._view = view
        self._by_key: dict[str, list[OutputRow]] = {}
        self._url_hosts: set[str] = set()
        self._blocks: list[OutputRow] = []
        self.size = 0
        for rows in batches:
            self.size += len(rows)
            for row in rows:
                kind, value = row[TYPE], row[VALUE]
                if kind == _URL:
                    value = value.partition("://")[2]
                    self._url_hosts.add(_authority(value))
                elif kind == _IP and "/" in value:
                    self._blocks.append(row)
                    continue
                self._by_key.setdefault(value, []).append(row)

    def __len__(self) -> int:
        return self.size

    def domains(self) -> set[str]:
        return {
            row[VALUE] for rows in self._by_key.values() for row in rows if row[TYPE] == _DOMAIN
        }

    def list_for(self, entries: Sequence[ListedIndicator]) -> AllowedList:
        """An AllowedList of the Allowed indicators that could match these entries."""
        rows: dict[int, OutputRow] = {}
        for entry in entries:
            for key in _keys(entry.indicator_type, entry.value):
                rows.update((row[ID], row) for row in self._by_key.get(key, ()))
            if entry.indicator_type is IndicatorType.IP_ADDRESS:
                rows.update((row[ID], row) for row in self._blocks)
        return AllowedList(_listed(row) for _, row in sorted(rows.items()))

    def filter(self, rows: list[OutputRow], tally: Tally) -> list[OutputRow]:
        """The rows without the entries the Allowed indicators exempt (counted in `tally`):
        precedence decides, for the few rows an Allowed indicator could match at all."""
        if not self.size:
            return rows
        maybe = [row for row in rows if self._may_exempt(row[TYPE], row[VALUE])]
        if not maybe:
            return rows
        entries = [_listed(row) for row in maybe]
        allowed = self.list_for(entries)
        exempt = {entry.id for entry in entries if not allowed.enforced(entry, self._view)}
        if not exempt:
            return rows
        tally.exempted += len(exempt)
        return [row for row in rows if row[ID] not in exempt]

    def _may_exempt(self, kind: int, value: str) -> bool:
        keys = self._by_key
        if kind == _DOMAIN:
            return _suffix_in(value, keys)
        if kind == _URL:
            rest = value.partition("://")[2]
            if self._url_hosts and _authority(rest) in self._url_hosts:
                return True
            host = url_host(value)
            return host is not None and _suffix_in(host, keys)
        if kind == _IP and self._blocks:
            return True
        return value in keys


def _authority(rest: str) -> str:
    """A URL's host and port (the URL without its scheme, up to its path or query)."""
    end = len(rest)
    for mark in "/?":
        at = rest.find(mark)
        if 0 <= at < end:
            end = at
    return rest[:end]


def _suffix_in(name: str, keys: dict[str, list[OutputRow]]) -> bool:
    """Whether the name or one of its parents is a key."""
    if name in keys:
        return True
    dot = name.find(".")
    while dot >= 0:
        if name[dot + 1 :] in keys:
            return True
        dot = name.find(".", dot + 1)
    return False


def _keys(kind: IndicatorType, value: str) -> list[str]:
    """Every value an Allowed indicator matching this entry could have (URLs: without the
    scheme)."""
    if kind is IndicatorType.DOMAIN_NAME:
        return [key for key, _ in domain_keys(value)]
    if kind is IndicatorType.URL:
        host = url_host(value)
        return url_keys(value) + ([key for key, _ in domain_keys(host)] if host else [])
    return [value]


def _in_view(groups: str, view: set[str]) -> bool:
    """Whether '|'-joined device groups name one of the view's."""
    return any(group in view for group in groups.split(SEPARATOR))


def _listed(row: OutputRow) -> ListedIndicator:
    """A row as the precedence rules see it."""
    groups = row[GROUPS]
    return ListedIndicator(
        id=row[ID],
        indicator_type=TYPE_CODES[row[TYPE]],
        value=row[VALUE],
        action=ACTION_CODES[row[ACTION]],
        groups=frozenset(groups.split(SEPARATOR)) if groups else frozenset(),
        authority=Authority(row[AUTHORITY]),
        sequence=row[SEQUENCE],
    )


def _as_parent(candidate: Candidate) -> Candidate:
    return Candidate(candidate.indicator, MatchKind.PARENT_DOMAIN, candidate.specificity)


def _top(rows: Iterable[list[OutputRow]], cap: int) -> tuple[list[list[OutputRow]], int]:
    """The `cap` rows of highest priority (severity, recency, lower id), in id order, and how
    many were left out. The buffer is cut back to `cap` whenever it passes about twice that,
    with numpy's lexsort: memory grows with the cap, not with the list."""
    seen = 0
    kept: list[OutputRow] = []
    limit = max(2 * cap, BATCH)
    for chunk in rows:
        seen += len(chunk)
        if not cap:
            continue
        kept.extend(chunk)
        if len(kept) > limit:
            kept = _cut(kept, cap)
    if len(kept) > cap:
        kept = _cut(kept, cap)
    kept.sort(key=itemgetter(ID))
    return [kept[n : n + BATCH] for n in range(0, len(kept), BATCH)], seen - len(kept)


def _cut(rows: list[OutputRow], cap: int) -> list[OutputRow]:
    """The `cap` rows of highest priority, in no particular order."""
    count = len(rows)
    ids = np.fromiter((r[ID] for r in rows), np.int64, count)
    updated = np.fromiter((r[UPDATED] for r in rows), np.int64, count)
    rank = np.fromiter((r[SEVERITY] for r in rows), np.int64, count)
    order = np.lexsort((ids, -updated, -rank))[:cap]  # the last key sorts first
    return [rows[n] for n in order.tolist()]
