"""The policy the agent enforces: the compiled index of its device group's view, with the
change-sequence value and the digest it stands at.

A policy comes from the compile process (iocd.agent.compile_policy verifies a snapshot and
compiles it; `Policy.from_part` wraps the part the agent maps from its file), or from entries
(`Policy.from_snapshot`: tests, and the empty policy). `policy.with_delta(delta)` computes the
new digest incrementally (XOR the old entry of each changed id out and the new one in), refuses
a delta whose result does not equal the server's digest (`DigestMismatch`: the caller fetches a
snapshot), and only then folds the changes into a new index version: the changed entries go to
a small overlay, compiled with numpy only. The index never folds its overlay into a new base
itself (`compact_past=NEVER`): that takes Arrow and a full build, so the agent has it done in
the compile process (iocd.agent.sync). A Policy is immutable: the agent swaps the whole object,
so a decision never sees half a delta.

Nothing here imports pyarrow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from iocd.agent.protocol import Delta, digest_text, entry_hash
from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType
from iocd.matching.compile import IntArray
from iocd.matching.index import NEVER, CompiledIndex, Part, Removal, build
from iocd.matching.part_data import ACTIONS

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
        index = build(items, sequence, compact_past=NEVER)
        return cls(index, digest, sequence, {i.id: i for i in index.base.skipped})

    @classmethod
    def from_part(cls, part: Part, sequence: int, digest: str) -> Policy:
        """The policy whose every entry is in `part` (compiled and verified elsewhere)."""
        index = CompiledIndex(part, sequence, compact_past=NEVER)
        return cls(index, digest, sequence, {i.id: i for i in part.skipped})

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

    @property
    def skipped(self) -> dict[int, ListedIndicator]:
        """The entries the index could not compile (kept for the digest), by id."""
        return self._skipped

    def indicators(self) -> list[ListedIndicator]:
        return [*self.index.indicators(), *self._skipped.values()]

    def indicators_of(self, kind: IndicatorType) -> list[ListedIndicator]:
        """The entries of one type (no object made for the others)."""
        skipped = (i for i in self._skipped.values() if i.indicator_type is kind)
        return [*self.index.indicators_of(kind), *skipped]

    def addresses(self, group: str, actions: Sequence[Action]) -> Iterator[str]:
        """The values of the IpAddress entries with one of `actions` that apply to `group`,
        read from the index's arrays (no ListedIndicator made for a compiled row)."""
        wanted = [ACTIONS.index(action) for action in actions]
        for part, _ in self.index.parts():
            rows = _address_rows(part, group, wanted)
            if part is self.index.base and len(rows):
                rows = rows[~np.isin(rows, self.index.dead_rows)]
            texts = part.ip_texts
            yield from (texts[row - part.ip_row0] for row in rows.tolist())
        for indicator in self._skipped.values():
            if (
                indicator.indicator_type is IndicatorType.IP_ADDRESS
                and indicator.action in actions
                and indicator.applies_to(group)
            ):
                yield indicator.value


def _address_rows(part: Part, group: str, actions: list[int]) -> IntArray:
    """Rows of `part`'s addresses and blocks (the rows from `ip_row0` on, one per address
    text) with one of `actions` that apply to `group`."""
    first, count = part.ip_row0, len(part.ip_texts)
    applies = np.array([not scope or group in scope for scope in part.scope_sets], dtype=bool)
    chosen = np.isin(part.actions[first : first + count], actions)
    chosen &= applies[part.scopes[first : first + count]]
    rows: IntArray = np.flatnonzero(chosen) + first
    return rows
