"""Deciding a batch's hits (SPEC section 4) and the matches the batch matcher answers.

`decide_hits` takes the long-form candidates of `batch.match_batch` (event, entity, index row,
match kind, device group, trust), one run per (event, entity), and decides each run through
`policy.precedence`. A run of one candidate is decided by an integer key remembered by the index
version (the common case: the same indicator hit again); longer runs by their candidate rows.
The indicators of the runs not remembered are made at once first (`CompiledIndex.prepare`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from iocd.domain.decision import Decision, EntityKind
from iocd.matching.compile import IntArray
from iocd.matching.index import KINDS, CompiledIndex, EntityDecision
from iocd.matching.single import FILE_CONTEXTS, TRUSTED, entity_decision
from iocd.policy.precedence import decide

__all__ = ["BatchMatches", "decide_hits", "no_matches"]

_ENTITIES = (EntityKind.FILE, EntityKind.NETWORK)
_CACHE_LIMIT = 262_144


@dataclass(frozen=True, eq=False)
class BatchMatches:
    """Entry `i`: event `rows[i]`, entity `entities[i]` (0 file, 1 network), and its decision
    `decided[outcomes[i]]`. Entries are in row order, file before network; `decided` holds each
    distinct outcome once."""

    rows: IntArray
    entities: npt.NDArray[np.uint8]
    outcomes: IntArray
    decided: tuple[EntityDecision, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple[int, EntityDecision]]:
        for row, outcome in zip(self.rows.tolist(), self.outcomes.tolist(), strict=True):
            yield row, self.decided[outcome]

    def decisions(self) -> list[Decision]:
        return [self.decided[o].decision for o in self.outcomes.tolist()]


def decide_hits(
    index: CompiledIndex,
    events: IntArray,
    entity: IntArray,
    rows: IntArray,
    kinds: IntArray,
    group: IntArray,
    trust: IntArray,
    groups: list[str],
) -> BatchMatches:
    starts_mask = np.ones(len(events), dtype=np.bool_)
    starts_mask[1:] = (events[1:] != events[:-1]) | (entity[1:] != entity[:-1])
    starts = np.flatnonzero(starts_mask)
    sizes = np.diff(np.append(starts, len(events)))
    outcomes = np.zeros(len(starts), dtype=np.int64)
    decided: list[EntityDecision] = []
    single = np.flatnonzero(sizes == 1)
    if len(single):
        # One candidate: the outcome is a function of one integer, remembered by the version.
        # Every candidate here applies to its device group (match_batch dropped the others),
        # so the group cannot change the decision, and of the file's signature only whether
        # it is trusted can (FileContext.trusted): neither is in the key.
        at = starts[single]
        trusted = trust[at] == TRUSTED
        key = ((rows[at] * len(KINDS) + kinds[at]) * 4 + trusted * 2 + entity[at]).astype(np.int64)
        distinct, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        cache = index.single_decisions
        positions = at[first]
        remembered = [cache.get(code) for code in distinct.tolist()]
        index.prepare(rows[positions[np.array([r is None for r in remembered], dtype=np.bool_)]])
        facts = zip(
            *(a[positions].tolist() for a in (rows, kinds, entity, trust, group)), strict=True
        )
        pending = zip(distinct.tolist(), remembered, facts, strict=True)
        for code, found, (row, kind, entity_code, trust_code, group_code) in pending:
            if found is None:
                found = _one(index, row, kind, entity_code, trust_code, groups[group_code])
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[code] = found
            decided.append(found)
        outcomes[single] = inverse.ravel()
    several = np.flatnonzero(sizes > 1)
    if len(several):
        seen: dict[tuple[Any, ...], int] = {}
        index.prepare(rows[np.repeat(sizes > 1, sizes)])
        row_list, kind_list = rows.tolist(), kinds.tolist()
        for entry in several.tolist():
            begin = int(starts[entry])
            end = begin + int(sizes[entry])
            pairs = tuple(zip(row_list[begin:end], kind_list[begin:end], strict=True))
            key_of = (pairs, int(group[begin]), int(trust[begin]), int(entity[begin]))
            known = seen.get(key_of)
            if known is None:
                known = seen[key_of] = len(decided)
                decided.append(_outcome(index, list(pairs), begin, entity, group, trust, groups))
            outcomes[entry] = known
    return BatchMatches(events[starts], entity[starts].astype(np.uint8), outcomes, tuple(decided))


def _one(
    index: CompiledIndex, row: int, kind: int, entity_code: int, trust_code: int, group: str
) -> EntityDecision:
    """The outcome of one candidate (remembered by the caller's integer key: no second cache)."""
    entity = _ENTITIES[entity_code]
    context = FILE_CONTEXTS[trust_code] if entity is EntityKind.FILE else None
    candidates = (index.candidate(row, kind),)
    decision = decide(candidates, device_group=group, entity=entity, file=context)
    return EntityDecision(entity, decision, candidates)


def _outcome(
    index: CompiledIndex,
    pairs: list[tuple[int, int]],
    position: int,
    entity: IntArray,
    group: IntArray,
    trust: IntArray,
    groups: list[str],
) -> EntityDecision:
    """The outcome of several candidates (remembered per candidate set: `entity_decision`)."""
    kind = _ENTITIES[int(entity[position])]
    context = FILE_CONTEXTS[int(trust[position])] if kind is EntityKind.FILE else None
    candidates = tuple(index.candidate(row, code) for row, code in pairs)
    found = entity_decision(index, candidates, groups[int(group[position])], kind, context)
    assert found is not None
    return found


def no_matches() -> BatchMatches:
    empty = np.zeros(0, dtype=np.int64)
    return BatchMatches(empty, empty.astype(np.uint8), empty, ())
