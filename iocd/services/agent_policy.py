"""Policy sync for agents: a device group's view as a snapshot, or as a delta since a value of
the change sequence, each with the view's digest (matching.snapshot).

The view is defined by stored state: the indicators whose stored state is active and whose
scope is all devices or includes the group (expiries enter it when swept: every request sweeps
first, and so does the server's sweeper, which publishes them on the bus).

Snapshots are built columnar from the store (`Store.policy_rows`), encoded once per (group,
sequence) and cached. Deltas read the change log since `since`; their digest comes from a
`DigestLedger` kept current change by change (built once from the store, then folded forward),
so a delta over a million-indicator list costs the size of the delta, not of the list.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from iocd.clock import Clock
from iocd.domain.indicator import Indicator
from iocd.domain.query import In, IndicatorQuery
from iocd.domain.types import IndicatorState
from iocd.matching.ledger import DigestLedger
from iocd.matching.snapshot import (
    DELTA,
    SNAPSHOT_REQUIRED,
    UNCHANGED,
    PolicyUpdate,
    SnapshotWriter,
    batch_hashes,
    combine,
    xor_digest,
)
from iocd.services.index_keeper import listed
from iocd.services.ports import Store

__all__ = ["MAX_DELTA_CHANGES", "PolicyGateway", "Snapshot", "view_of"]

MAX_DELTA_CHANGES = 100_000
"""A `since` further behind than this many changes gets `snapshot-required`."""
REBUILD_PAST = 50_000
"""Past this many changes to fold, the ledger is rebuilt from the store instead."""
SNAPSHOT_CACHE = 8
DELTA_CACHE = 256
ID_CHUNK = 500
RETRIES = 8


@dataclass(frozen=True, slots=True)
class Snapshot:
    group: str
    sequence: int
    digest: str
    payload: bytes = field(repr=False)
    rows: int = 0


def view_of(batch: pa.RecordBatch, group: str) -> pa.RecordBatch:
    """The rows of a snapshot batch in the view of a device in `group`."""
    if not batch.num_rows:
        return batch
    groups = batch.column("groups")
    mask = pc.equal(pc.list_value_length(groups), 0).to_numpy(zero_copy_only=False).copy()
    flat = pc.list_flatten(groups)
    if len(flat):
        parents = pc.list_parent_indices(groups).to_numpy(zero_copy_only=False)
        hits = pc.equal(flat, group).to_numpy(zero_copy_only=False)
        mask[parents[hits]] = True
    return batch if mask.all() else batch.filter(pa.array(mask))


class PolicyGateway:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        sweep: Callable[[], object] | None = None,
        max_delta: int = MAX_DELTA_CHANGES,
    ) -> None:
        """`sweep` records due expiries (IndicatorService.sweep_expired) before each answer."""
        self._store = store
        self._clock = clock
        self._sweep = sweep or (lambda: None)
        self._max_delta = max_delta
        self._lock = threading.Lock()
        self._ledger: DigestLedger | None = None
        self._build_lock = threading.Lock()
        self._snapshots: OrderedDict[tuple[str, int], Snapshot] = OrderedDict()
        self._deltas: OrderedDict[tuple[str, int, int], PolicyUpdate] = OrderedDict()

    def last_sequence(self) -> int:
        with self._store.transaction(readonly=True) as tx:
            return tx.last_sequence()

    # -- snapshots ----------------------------------------------------------------------------

    def snapshot(self, group: str) -> Snapshot:
        """The whole view of `group`, encoded; cached per (group, sequence)."""
        self._sweep()
        key = (group, self.last_sequence())
        found = self._snapshots.get(key)
        if found is not None:
            return found
        with self._build_lock:
            found = self._snapshots.get(key)
            if found is not None:
                return found
            built = self._build_snapshot(group)
            self._snapshots[(group, built.sequence)] = built
            while len(self._snapshots) > SNAPSHOT_CACHE:
                self._snapshots.popitem(last=False)
            return built

    def _build_snapshot(self, group: str) -> Snapshot:
        writer = SnapshotWriter()
        digest = xor_digest(b"")
        sequence = 0
        for at, batch in self._store.policy_rows():
            sequence = at
            view = view_of(batch, group)
            writer.write(view)
            digest = combine(digest, xor_digest(batch_hashes(view)))
        return Snapshot(group, sequence, digest, writer.finish(), writer.rows)

    # -- deltas -------------------------------------------------------------------------------

    def digest(self, group: str) -> tuple[int, str]:
        """(sequence, digest) of the group's view as of now."""
        self._sweep()
        return self._advance(group)

    def update(self, group: str, since: int) -> PolicyUpdate:
        """The changes of the group's view since `since` (see matching.snapshot.PolicyUpdate)."""
        self._sweep()
        for _ in range(RETRIES):
            sequence, digest = self._advance(group)
            if since == sequence:
                return PolicyUpdate(UNCHANGED, since)
            if since < 0 or since > sequence or sequence - since > self._max_delta:
                return PolicyUpdate(SNAPSHOT_REQUIRED, sequence)
            known = self._deltas.get((group, since, sequence))
            if known is not None:  # the agents of a group all ask the same after a change
                return known
            with self._store.transaction(readonly=True) as tx:
                changes = tx.changes_since(since, sequence - since)
            ids = sorted({c.indicator_id for c in changes if c.sequence <= sequence})
            current = self._current(ids)
            if any(i.sequence > sequence for i in current.values()):
                continue  # a write landed meanwhile: fold it into the ledger and start again
            upserts, removals = [], []
            for indicator_id in ids:
                indicator = current.get(indicator_id)
                entry = listed(indicator) if indicator is not None and _in_list(indicator) else None
                if entry is not None and entry.applies_to(group):
                    upserts.append(entry)
                else:
                    removals.append(indicator_id)
            answer = PolicyUpdate(DELTA, sequence, digest, tuple(upserts), tuple(removals))
            self._deltas[(group, since, sequence)] = answer
            while len(self._deltas) > DELTA_CACHE:
                self._deltas.popitem(last=False)
            return answer
        return PolicyUpdate(SNAPSHOT_REQUIRED, self.last_sequence())

    def _current(self, ids: Sequence[int]) -> dict[int, Indicator]:
        found: dict[int, Indicator] = {}
        now = self._clock.now()
        with self._store.transaction(readonly=True) as tx:
            for start in range(0, len(ids), ID_CHUNK):
                chunk = tuple(ids[start : start + ID_CHUNK])
                query = IndicatorQuery(where=In("id", chunk), top=len(chunk), include_inactive=True)
                found.update((i.id, i) for i in tx.list(query, now))
        return found

    def _advance(self, group: str) -> tuple[int, str]:
        """Fold every committed change into the ledger; its (sequence, digest of `group`)."""
        with self._lock:
            ledger = self._ledger or self._build_ledger()
            for _ in range(RETRIES):
                with self._store.transaction(readonly=True) as tx:
                    changes = tx.changes_since(ledger.sequence, REBUILD_PAST + 1)
                if not changes:
                    break
                if len(changes) > REBUILD_PAST:
                    ledger = self._build_ledger()
                    continue
                upto = changes[-1].sequence
                current = self._current(sorted({c.indicator_id for c in changes}))
                if any(i.sequence > upto for i in current.values()):
                    continue
                ids = {c.indicator_id for c in changes}
                live = [i for i in current.values() if _in_list(i)]
                gone = sorted(ids - {i.id for i in live})
                ledger.apply((listed(i) for i in live), gone, upto)
            self._ledger = ledger
            return ledger.sequence, ledger.digest(group)

    def _build_ledger(self) -> DigestLedger:
        sequence = 0

        def batches() -> Iterator[pa.RecordBatch]:
            nonlocal sequence
            for at, batch in self._store.policy_rows():
                sequence = at
                yield batch

        ledger = DigestLedger.from_batches(batches(), 0)
        ledger.sequence = sequence
        return ledger


def _in_list(indicator: Indicator | None) -> bool:
    return indicator is not None and indicator.state is IndicatorState.ACTIVE
