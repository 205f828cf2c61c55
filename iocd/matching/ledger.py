"""Digests of every device group's view, kept current change by change (matching.snapshot).

The view of group G is the all-devices entries plus the entries scoped to G, so its digest is
`D[""] ^ D[G]`, where `D[""]` is the XOR of the all-devices entries' hashes and `D[G]` that of
the entries whose groups include G. The ledger keeps those per-scope digests and, for every
entry, its hash and groups: a base of numpy columns (built once, 40 bytes an entry) plus a dict
overlay of what changed since. An upsert or removal XORs the entry's old hash out of the digests
of its old groups and its new hash into those of its new groups. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from iocd.domain.decision import ListedIndicator
from iocd.matching.snapshot import batch_hashes, entry_hash

ALL_DEVICES = ""
COMPACT_PAST = 200_000
"""Overlay entries past which the overlay is folded into the base columns."""

Entry = tuple[int, tuple[str, ...]]
"""(hash as a 256-bit int, groups) of one entry."""


class DigestLedger:
    def __init__(self, sequence: int = 0) -> None:
        self.sequence = sequence
        self._ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._hashes: npt.NDArray[np.uint8] = np.zeros((0, 32), dtype=np.uint8)
        self._scope: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._scopes: list[tuple[str, ...]] = [()]
        self._overlay: dict[int, Entry | None] = {}
        self._digests: dict[str, int] = {}

    @classmethod
    def from_batches(cls, batches: Iterable[pa.RecordBatch], sequence: int) -> DigestLedger:
        """The ledger of every active entry (SNAPSHOT_SCHEMA batches) at `sequence`."""
        ledger = cls(sequence)
        ids: list[npt.NDArray[np.int64]] = []
        hashes: list[bytes] = []
        scopes: list[npt.NDArray[np.int32]] = []
        scope_code: dict[tuple[str, ...], int] = {(): 0}
        for batch in batches:
            if not batch.num_rows:
                continue
            ids.append(batch.column("id").to_numpy().astype(np.int64))
            hashes.append(batch_hashes(batch))
            lengths = batch.column("groups").value_lengths().to_numpy(zero_copy_only=False)
            codes = np.zeros(batch.num_rows, dtype=np.int32)
            for row in np.flatnonzero(lengths):
                groups = tuple(sorted(batch.column("groups")[int(row)].as_py()))
                codes[row] = scope_code.setdefault(groups, len(scope_code))
            scopes.append(codes)
        if ids:
            ledger._ids = np.concatenate(ids)
            raw = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)
            ledger._hashes = raw
            ledger._scope = np.concatenate(scopes)
            order = np.argsort(ledger._ids, kind="stable")
            ledger._ids, ledger._hashes = ledger._ids[order], ledger._hashes[order]
            ledger._scope = ledger._scope[order]
        ledger._scopes = [s for s, _ in sorted(scope_code.items(), key=lambda kv: kv[1])]
        ledger._digests = ledger._base_digests()
        return ledger

    def _base_digests(self) -> dict[str, int]:
        digests: dict[str, int] = {}
        words = self._hashes.view(np.uint64).reshape(-1, 4)
        for code, groups in enumerate(self._scopes):
            rows = words[self._scope == code]
            if not len(rows):
                continue
            value = int.from_bytes(np.bitwise_xor.reduce(rows, axis=0).tobytes(), "big")
            for group in groups or (ALL_DEVICES,):
                digests[group] = digests.get(group, 0) ^ value
        return digests

    def __len__(self) -> int:
        dead = sum(1 for i in self._overlay if self._base_row(i) >= 0)
        added = sum(1 for e in self._overlay.values() if e is not None)
        return len(self._ids) - dead + added

    def _base_row(self, indicator_id: int) -> int:
        row = int(np.searchsorted(self._ids, indicator_id))
        return row if row < len(self._ids) and self._ids[row] == indicator_id else -1

    def _lookup(self, indicator_id: int) -> Entry | None:
        if indicator_id in self._overlay:
            return self._overlay[indicator_id]
        row = self._base_row(indicator_id)
        if row < 0:
            return None
        return int.from_bytes(self._hashes[row].tobytes(), "big"), self._scopes[self._scope[row]]

    def _toggle(self, entry: Entry) -> None:
        value, groups = entry
        for group in groups or (ALL_DEVICES,):
            self._digests[group] = self._digests.get(group, 0) ^ value

    def apply(
        self, upserts: Iterable[ListedIndicator], removals: Iterable[int], sequence: int
    ) -> None:
        """Fold changes in: each upsert replaces (or adds) its id, each removal drops it."""
        for indicator_id in removals:
            old = self._lookup(indicator_id)
            if old is not None:
                self._toggle(old)
            self._overlay[indicator_id] = None
        for listed in upserts:
            old = self._lookup(listed.id)
            if old is not None:
                self._toggle(old)
            new = (int.from_bytes(entry_hash(listed), "big"), tuple(sorted(listed.groups)))
            self._toggle(new)
            self._overlay[listed.id] = new
        self.sequence = sequence
        if len(self._overlay) > COMPACT_PAST:
            self._compact()

    def _compact(self) -> None:
        keep = ~np.isin(self._ids, np.fromiter(self._overlay, dtype=np.int64))
        live = [(i, e) for i, e in self._overlay.items() if e is not None]
        codes = {s: n for n, s in enumerate(self._scopes)}
        extra_scope = [codes.setdefault(groups, len(codes)) for _, (_, groups) in live]
        self._scopes = [s for s, _ in sorted(codes.items(), key=lambda kv: kv[1])]
        extra_hashes = np.frombuffer(
            b"".join(value.to_bytes(32, "big") for _, (value, _) in live), dtype=np.uint8
        ).reshape(-1, 32)
        ids = np.concatenate([self._ids[keep], np.array([i for i, _ in live], dtype=np.int64)])
        hashes = np.concatenate([self._hashes[keep], extra_hashes])
        scope = np.concatenate([self._scope[keep], np.array(extra_scope, dtype=np.int32)])
        order = np.argsort(ids, kind="stable")
        self._ids, self._hashes, self._scope = ids[order], hashes[order], scope[order]
        self._overlay = {}

    def digest(self, group: str) -> str:
        """The digest of the view of a device in `group`."""
        value = self._digests.get(ALL_DEVICES, 0) ^ self._digests.get(group, 0)
        return f"{value:064x}"
