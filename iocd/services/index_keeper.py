"""The detection engine's compiled index, kept current from the change sequence.

The index is built once from every active indicator, then each change-sequence entry is folded
in (one changed indicator never rebuilds a million). Expiry takes effect at the second given,
before any sweeper runs: the keeper remembers each entry's expiry and drops it when due.

A compiled base can be saved (`SavedIndex`, a file in the data directory): a keeper that finds
one at change-sequence value S, where the store's change S is the one the file recorded, starts
from it and folds the changes since S, instead of compiling every indicator again. A saved base
of another store, or of a sequence the store has not reached, is ignored.
"""

from __future__ import annotations

import heapq
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from iocd.clock import Clock
from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.history import Change
from iocd.domain.indicator import Indicator
from iocd.matching import index as matching_index
from iocd.matching.part_arrays import part_from_arrays, part_to_arrays
from iocd.services.ports import Store

REBUILD_PAST = 50_000
"""Past this many pending changes a full rebuild is cheaper than folding them one by one."""
STORE_ID_KEY = "store.id"
"""A random id each store gets once: a saved index names the store it was compiled from."""
SAVE_FROM = 10_000
"""Compiled bases of at least this many indicators are saved (smaller ones compile at once)."""


class SavedIndex(Protocol):
    """Where a compiled base is kept between processes (store.index_files)."""

    def load(self) -> tuple[Mapping[str, Any], dict[str, Any]] | None: ...

    def save(self, arrays: dict[str, Any], meta: dict[str, Any]) -> None: ...


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
    def __init__(
        self,
        store: Store,
        clock: Clock,
        saved: SavedIndex | None = None,
        save_from: int = SAVE_FROM,
    ) -> None:
        self._store = store
        self._clock = clock
        self._saved = saved
        self._save_from = save_from
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

    def _build(self, use_saved: bool = True) -> matching_index.CompiledIndex:
        """The index of every stored-active indicator: from the saved base with the changes
        since folded in, or compiled from the store. Entries past their expiry but not yet
        swept are taken out at once, as `_due`."""
        found = self._saved_base() if use_saved else None
        if found is None:
            part, sequence = self._compile()
        else:
            part, sequence = found
        # Read after the rows: an expiry changed since is folded again by `refresh`.
        ids, times = self._store.expiries()
        order = np.argsort(times, kind="stable")
        self._base_ids, self._base_times, self._base_at = ids[order], times[order], 0
        self._expiries = []
        self._expiry_of = {}
        index = matching_index.CompiledIndex(part, sequence)
        due = self._due(self._clock.now().timestamp())
        index = matching_index.apply(index, [], due, sequence) if due else index
        if found is not None:
            index = self._fold(index)[0]
        return index

    def _compile(self) -> tuple[matching_index.Part, int]:
        """Every stored-active indicator, read and compiled columnar (`Store.policy_rows`): no
        Python object per indicator. Saved when large enough."""
        sequence = 0

        def batches() -> Iterator[pa.RecordBatch]:
            nonlocal sequence
            for at, batch in self._store.policy_rows():
                sequence = at
                yield batch

        part = matching_index.Part.from_batches(batches())
        if self._saved is not None and part.size >= self._save_from and sequence > 0:
            marker = self._marker(sequence)
            if marker is not None:
                arrays, meta = part_to_arrays(part)
                self._saved.save(arrays, {**meta, "sequence": sequence, "marker": marker})
        return part, sequence

    def _saved_base(self) -> tuple[matching_index.Part, int] | None:
        """The saved base, when it was compiled from this store at a sequence it has."""
        if self._saved is None:
            return None
        loaded = self._saved.load()
        if loaded is None:
            return None
        arrays, meta = loaded
        sequence = meta.get("sequence")
        if not isinstance(sequence, int) or self._marker(sequence) != meta.get("marker"):
            return None
        try:
            return part_from_arrays(arrays, meta), sequence
        except (ValueError, KeyError, TypeError):
            return None

    def _marker(self, sequence: int) -> list[Any] | None:
        """What identifies the store's change `sequence`: the store's own random id (made on
        first use) and that change (None when it has none)."""
        with self._store.transaction(readonly=True) as tx:
            found = tx.changes_since(sequence - 1, 1)
        if not found or found[0].sequence != sequence:
            return None
        with self._store.accounts(readonly=True) as accounts:
            store_id = accounts.get_setting(STORE_ID_KEY)
        if store_id is None:
            with self._store.accounts() as accounts:
                store_id = accounts.get_setting(STORE_ID_KEY) or secrets.token_hex(16)
                accounts.put_setting(STORE_ID_KEY, store_id)
        return [store_id, *_marker_of(found[0])]

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
            self._index, refresh = self._fold(self._index)
            return refresh

    def _fold(
        self, index: matching_index.CompiledIndex
    ) -> tuple[matching_index.CompiledIndex, Refresh]:
        now = self._clock.now()
        with self._store.transaction(readonly=True) as tx:
            changes = tx.changes_since(index.sequence, REBUILD_PAST + 1)
            if len(changes) > REBUILD_PAST:
                rebuilt = self._build(use_saved=False)
                return rebuilt, Refresh((), 0, rebuilt.sequence)
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
            index = matching_index.apply(index, upserts, removals, sequence)
        return index, Refresh(tuple(upserts), len(removals), sequence)

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


def _marker_of(change: Change) -> list[Any]:
    return [change.sequence, change.indicator_id, str(change.kind), change.at.isoformat()]
