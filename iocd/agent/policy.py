"""The policy the agent enforces: the compiled index of its device group's view, with the
change-sequence value and the digest it stands at.

`Policy.from_snapshot` compiles a snapshot; `policy.with_delta(delta)` computes the new digest
incrementally (XOR the old entry of each changed id out and the new one in), refuses a delta whose
result does not equal the server's digest (`DigestMismatch`: the caller fetches a snapshot), and
only then folds the changes into a new index version. A Policy is immutable: the agent swaps the
whole object, so a decision never sees half a delta.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial

from iocd.agent.memory import release_memory
from iocd.agent.protocol import (
    Delta,
    ProtocolError,
    batch_digest,
    digest_text,
    entry_hash,
    snapshot_batches,
)
from iocd.domain.decision import ListedIndicator
from iocd.domain.types import IndicatorType
from iocd.matching.index import CompiledIndex, Part, Removal, build
from iocd.matching.part_build import PartBuilder
from iocd.matching.snapshot import encode_snapshot, listed_to_batch

FILE_HASHES = (IndicatorType.FILE_SHA256, IndicatorType.FILE_SHA1, IndicatorType.FILE_MD5)


class DigestMismatch(Exception):
    """The policy after a delta (or a snapshot) is not what the server says it should be."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"digest {found} differs from the server's {expected}")
        self.expected = expected
        self.found = found


@dataclass(frozen=True)
class Policy:
    index: CompiledIndex
    digest: str
    sequence: int
    _skipped: dict[int, ListedIndicator] = field(default_factory=dict, repr=False)

    @classmethod
    def from_snapshot(
        cls, indicators: Iterable[ListedIndicator], sequence: int, expected_digest: str | None
    ) -> Policy:
        items = list(indicators)
        value = 0
        for indicator in items:
            value ^= entry_hash(indicator)
        digest = digest_text(value)
        if expected_digest is not None and digest != expected_digest.lower():
            raise DigestMismatch(expected_digest.lower(), digest)
        index = build(items, sequence)
        return cls(index, digest, sequence, {i.id: i for i in index.base.skipped})

    @classmethod
    def from_snapshot_bytes(cls, data: bytes, sequence: int, expected_digest: str) -> Policy:
        """The policy of a snapshot stream, streamed by record batch: each batch's entry hashes
        are computed column-wise and the batch is folded into the index builder, then dropped;
        the digest is checked before the index is compiled."""
        builder = PartBuilder(between_stages=partial(release_memory, collect=False))
        hashes = 0
        try:
            for batch in snapshot_batches(data):  # one record batch at a time, none kept
                hashes ^= batch_digest(batch)
                builder.add(batch)
        except (KeyError, ValueError, TypeError) as error:  # an unknown type, action, ...
            raise ProtocolError(f"not a policy snapshot: {error}") from error
        digest = digest_text(hashes)
        if digest != expected_digest.lower():
            raise DigestMismatch(expected_digest.lower(), digest)
        release_memory(collect=False)  # the decoded batches
        index = CompiledIndex(Part.from_data(builder.finish()), sequence)
        return cls(index, digest, sequence, {i.id: i for i in index.base.skipped})

    @classmethod
    def empty(cls) -> Policy:
        return cls.from_snapshot([], 0, None)

    def get(self, indicator_id: int) -> ListedIndicator | None:
        """The entry of an id, including one the index could not compile (kept for the digest)."""
        found = self.index.get(indicator_id)
        if found is None and indicator_id in self._skipped:
            return self._skipped[indicator_id]
        return found

    def __len__(self) -> int:
        return len(self.index)

    def with_delta(self, delta: Delta) -> Policy:
        """The policy after `delta`; raises DigestMismatch (and changes nothing) when the result
        is not the server's digest."""
        pending: dict[int, ListedIndicator | None] = {}
        value = int(self.digest, 16)

        def current(ident: int) -> ListedIndicator | None:
            return pending[ident] if ident in pending else self.get(ident)

        changes: list[ListedIndicator | Removal] = []
        for ident in delta.removals:
            old = current(ident)
            if old is not None:
                value ^= entry_hash(old)
            pending[ident] = None
            changes.append(Removal(ident, delta.sequence))
        for upsert in delta.upserts:
            old = current(upsert.id)
            if old is not None:
                value ^= entry_hash(old)
            value ^= entry_hash(upsert)
            pending[upsert.id] = upsert
            changes.append(upsert)
        digest = digest_text(value)
        if digest != delta.digest:
            raise DigestMismatch(delta.digest, digest)
        index = self.index.apply(changes, delta.sequence)
        if index.base is not self.index.base:  # compacted: a new base, new skipped rows
            skipped = {i.id: i for i in index.base.skipped}
        else:
            skipped = {k: v for k, v in self._skipped.items() if pending.get(k, v) is v}
        return Policy(index, digest, delta.sequence, skipped)

    @cached_property
    def hash_types(self) -> frozenset[IndicatorType]:
        """The file hash types the policy holds: the only ones worth computing for a file."""
        found: set[IndicatorType] = set()
        for part, _ in self.index.parts():
            found.update(t for t in FILE_HASHES if t in part.exact)
        return frozenset(found)

    def indicators(self) -> list[ListedIndicator]:
        return [*self.index.indicators(), *self._skipped.values()]

    def snapshot(self) -> bytes:
        """This policy as a snapshot stream (the cache's own compaction of snapshot plus
        deltas), written from the index's columns: no Python object per indicator."""
        batches = [*self.index.to_batches()]
        if self._skipped:
            batches.append(listed_to_batch(list(self._skipped.values())))
        return encode_snapshot(batches)

    def indicators_of(self, kind: IndicatorType) -> list[ListedIndicator]:
        """The entries of one type (no object made for the others)."""
        skipped = (i for i in self._skipped.values() if i.indicator_type is kind)
        return [*self.index.indicators_of(kind), *skipped]
