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

from iocd.domain.decision import Decision, EntityKind, FileContext
from iocd.matching.compile import IntArray
from iocd.matching.index import KINDS, CompiledIndex, EntityDecision
from iocd.matching.single import entity_decision
from iocd.policy.precedence import decide

__all__ = ["BatchMatches", "decide_hits", "no_matches"]

_ENTITIES = (EntityKind.FILE, EntityKind.NETWORK)
_GROUP_LIMIT = 1 << 24
_CACHE_LIMIT = 262_144
_CONTEXTS = tuple(FileContext(bool(v), bool(t)) for v in (0, 1) for t in (0, 1))


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
        at = starts[single]
        key = ((rows[at] * len(KINDS) + kinds[at]) * _GROUP_LIMIT + group[at]) * 8
        key += trust[at] * 2 + entity[at]
        distinct, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        cache = index.single_decisions
        positions = at[first]
        remembered = [cache.get(code) for code in distinct.tolist()]
        index.prepare(rows[positions[np.array([r is None for r in remembered], dtype=np.bool_)]])
        pending = zip(distinct.tolist(), positions.tolist(), remembered, strict=True)
        for code, position, found in pending:
            if found is None:
                pair = [(int(rows[position]), int(kinds[position]))]
                found = _outcome(index, pair, position, entity, group, trust, groups)
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


def _outcome(
    index: CompiledIndex,
    pairs: list[tuple[int, int]],
    position: int,
    entity: IntArray,
    group: IntArray,
    trust: IntArray,
    groups: list[str],
) -> EntityDecision:
    kind = _ENTITIES[int(entity[position])]
    context = _CONTEXTS[int(trust[position])] if kind is EntityKind.FILE else None
    candidates = tuple(index.candidate(row, code) for row, code in pairs)
    if len(candidates) == 1:  # remembered by the caller's integer key: no second cache
        decision = decide(
            candidates, device_group=groups[int(group[position])], entity=kind, file=context
        )
        return EntityDecision(kind, decision, candidates)
    found = entity_decision(index, candidates, groups[int(group[position])], kind, context)
    assert found is not None
    return found


def no_matches() -> BatchMatches:
    empty = np.zeros(0, dtype=np.int64)
    return BatchMatches(empty, empty.astype(np.uint8), empty, ())
