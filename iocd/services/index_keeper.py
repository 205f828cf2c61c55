"""The detection engine's compiled index, kept current from the change sequence.

The index is built once from every active indicator, then each change-sequence entry is folded
in (one changed indicator never rebuilds a million). Expiry takes effect at the second given,
before any sweeper runs: the keeper remembers each entry's expiry and drops it when due.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from iocd.clock import Clock
from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.indicator import Indicator
from iocd.matching import index as matching_index
from iocd.services.ports import Store

REBUILD_PAST = 50_000
"""Past this many pending changes a full rebuild is cheaper than folding them one by one."""


def listed(indicator: Indicator) -> ListedIndicator:
    """What the engines need to know of an indicator."""
    fields = indicator.fields
    return ListedIndicator(
        id=indicator.id,
        indicator_type=fields.indicator_type,
        value=fields.value,
        action=fields.action,
        groups=frozenset(fields.rbac_group_names),
        authority=getattr(indicator, "authority", Authority.ORGANISATION),
        overridden=bool(indicator.override_justification),
        generate_alert=fields.generate_alert,
        sequence=indicator.sequence,
    )


@dataclass(frozen=True, slots=True)
class Refresh:
    """What one refresh folded in: the indicators that became active or changed (the retro-hunt
    searches for these) and how many were removed."""

    changed: tuple[ListedIndicator, ...]
    removed: int
    sequence: int


class IndexKeeper:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._index: matching_index.CompiledIndex | None = None
        self._base_ids = np.zeros(0, dtype=np.int64)  # expiries read at the build, by time
        self._base_times = np.zeros(0, dtype=np.float64)
        self._base_at = 0  # the first of those not yet due
        self._expiries: list[tuple[float, int]] = []  # (expiry, id) of changes since, a heap
        self._expiry_of: dict[int, float | None] = {}  # the newest expiry of each changed id

    @property
    def current(self) -> matching_index.CompiledIndex:
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    self._index = self._build()
                index = self._index
        return index

    def _build(self) -> matching_index.CompiledIndex:
        """The index of every stored-active indicator, read and compiled columnar
        (`Store.policy_rows`): no Python object per indicator. Entries past their expiry but
        not yet swept are taken out at once, as `_due`."""
        sequence = 0

        def batches() -> Iterator[pa.RecordBatch]:
            nonlocal sequence
            for at, batch in self._store.policy_rows():
                sequence = at
                yield batch

        part = matching_index.Part.from_batches(batches())
        # Read after the rows: an expiry changed since is folded again by `refresh`.
        ids, times = self._store.expiries()
        order = np.argsort(times, kind="stable")
        self._base_ids, self._base_times, self._base_at = ids[order], times[order], 0
        self._expiries = []
        self._expiry_of = {}
        index = matching_index.CompiledIndex(part, sequence)
        due = self._due(self._clock.now().timestamp())
        return matching_index.apply(index, [], due, sequence) if due else index

    def _remember(self, indicators: Iterable[Indicator]) -> Iterable[Indicator]:
        for indicator in indicators:
            expiry = indicator.fields.expiration_time
            if expiry is not None:
                self._expiry_of[indicator.id] = expiry.timestamp()
                heapq.heappush(self._expiries, (expiry.timestamp(), indicator.id))
            else:
                self._expiry_of[indicator.id] = None
            yield indicator

    def refresh(self) -> Refresh:
        """Fold every change since the index's version, and every expiry now due."""
        with self._lock:
            if self._index is None:
                self._index = self._build()
                return Refresh((), 0, self._index.sequence)
            index = self._index
            now = self._clock.now()
            with self._store.transaction(readonly=True) as tx:
                changes = tx.changes_since(index.sequence, REBUILD_PAST + 1)
                if len(changes) > REBUILD_PAST:
                    self._index = self._build()
                    return Refresh((), 0, self._index.sequence)
                ids = sorted({c.indicator_id for c in changes})
                current = [tx.get(i) for i in ids]
            upserts: list[ListedIndicator] = []
            removals: list[int] = []
            for indicator_id, indicator in zip(ids, current, strict=True):
                if indicator is not None and indicator.is_active(now):
                    upserts.append(listed(next(iter(self._remember([indicator])))))
                else:
                    removals.append(indicator_id)
            removals.extend(self._due(now.timestamp()))
            sequence = changes[-1].sequence if changes else index.sequence
            if upserts or removals or sequence != index.sequence:
                self._index = matching_index.apply(index, upserts, removals, sequence)
            return Refresh(tuple(upserts), len(removals), sequence)

    def _due(self, now: float) -> list[int]:
        due: list[int] = []
        # The expiries read at the build (sorted), unless a change since gave the id another.
        end = int(np.searchsorted(self._base_times, now, side="right"))
        if end > self._base_at:
            for indicator_id in self._base_ids[self._base_at : end].tolist():
                if indicator_id not in self._expiry_of:
                    due.append(indicator_id)
            self._base_at = end
        while self._expiries and self._expiries[0][0] <= now:
            expiry, indicator_id = heapq.heappop(self._expiries)
            # Only the newest expiry of an indicator counts (an update may have moved it).
            if self._expiry_of.get(indicator_id) == expiry:
                self._expiry_of[indicator_id] = None
                due.append(indicator_id)
        return due
