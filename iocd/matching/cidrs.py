"""CIDR blocks, compiled: flattened into disjoint intervals, each labelled with its chain (every
block containing it, longest prefix first), found by binary search; IPv4 first goes through a
table of the 65,536 /16 buckets, so a bucket with one chain (the common case) needs no search.
Pure.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from iocd.matching.compile import (
    M64,
    Int32Array,
    IntArray,
    RowRuns,
    U64Array,
    value_runs,
)


@dataclass(frozen=True, eq=False)
class CidrTable(RowRuns):
    """Blocks `v` (value index; rows `row0 + starts[v] ...`) as disjoint labelled intervals.

    IPv4 intervals are over 32-bit addresses (an IPv6 block inside or around ::ffff:0:0/96 is
    also placed there); IPv6 intervals over 128-bit addresses (`v6_hi`, `v6_lo`). Interval `i`
    spans `[bound[i], bound[i + 1])` and is labelled with chain `chain[i]` (-1: none), whose
    blocks are `chain_values[chain_starts[c]:chain_starts[c + 1]]`, longest prefix first.
    """

    row0: int
    starts: Int32Array
    v4_bounds: U64Array
    v4_chain: Int32Array
    v4_first: Int32Array
    v4_last: Int32Array
    v6_bounds: list[int]
    v6_hi: U64Array
    v6_lo: U64Array
    v6_chain: Int32Array
    chain_starts: Int32Array
    chain_values: Int32Array
    chains: list[tuple[int, ...]]
    _starts_view: memoryview = field(init=False)
    _views: tuple[memoryview, memoryview, memoryview, memoryview] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts_view", memoryview(self.starts.data))
        arrays = (self.v4_bounds, self.v4_chain, self.v4_first, self.v4_last)
        object.__setattr__(self, "_views", tuple(memoryview(a.data) for a in arrays))

    @property
    def nbytes(self) -> int:
        arrays = (self.starts, self.v4_bounds, self.v4_chain, self.v4_first, self.v4_last)
        more = (self.v6_hi, self.v6_lo, self.v6_chain, self.chain_starts, self.chain_values)
        return sum(int(a.nbytes) for a in (*arrays, *more)) + 40 * len(self.chains)

    def chain_of_v4(self, address: int) -> int:
        bounds, chain, firsts, lasts = self._views
        bucket = address >> 16
        first, last = firsts[bucket], lasts[bucket]
        if first != last:
            first = bisect.bisect_right(bounds, address, first, last + 1) - 1
        found: int = chain[first]
        return found

    def chain_of_v6(self, address: int) -> int:
        at = bisect.bisect_right(self.v6_bounds, address) - 1
        return int(self.v6_chain[at]) if at >= 0 else -1

    def chains_of_v4(self, addresses: U64Array) -> Int32Array:
        """The chain of each IPv4 address (as an integer), vectorised."""
        bucket = (addresses >> np.uint64(16)).astype(np.int64)
        lo = self.v4_first[bucket].astype(np.int64)
        hi = self.v4_last[bucket].astype(np.int64)
        search = np.flatnonzero(lo != hi)
        if search.size:
            # Rightmost interval start <= address within [lo, hi], branch-free per round.
            queries = addresses[search]
            left, right = lo[search], hi[search] + 1
            while True:
                open_ = right - left > 1
                if not open_.any():
                    break
                middle = (left + right) >> 1
                below = self.v4_bounds[np.minimum(middle, len(self.v4_bounds) - 1)] <= queries
                left = np.where(open_ & below, middle, left)
                right = np.where(open_ & ~below, middle, right)
            lo[search] = left
        chains: Int32Array = self.v4_chain[lo]
        return chains

    def chains_of_v6(self, hi: U64Array, lo: U64Array) -> Int32Array:
        """The chain of each IPv6 address (as two 64-bit halves), vectorised."""
        count = len(self.v6_hi)
        if count == 0 or len(hi) == 0:
            return np.full(len(hi), -1, dtype=np.int32)
        left = np.full(len(hi), -1, dtype=np.int64)  # invariant: bound[left] <= q (or -1)
        right = np.full(len(hi), count, dtype=np.int64)
        while True:
            open_ = right - left > 1
            if not open_.any():
                break
            middle = (left + right) >> 1
            at = np.clip(middle, 0, count - 1)
            bound_hi, bound_lo = self.v6_hi[at], self.v6_lo[at]
            below = (bound_hi < hi) | ((bound_hi == hi) & (bound_lo <= lo))
            left = np.where(open_ & below, middle, left)
            right = np.where(open_ & ~below, middle, right)
        chains = np.where(left >= 0, self.v6_chain[np.maximum(left, 0)], -1)
        return chains.astype(np.int32)


_MAPPED = 0xFFFF << 32
_V4_SPACE = 1 << 32


def _flatten(
    blocks: list[tuple[int, int, int]], chain_ids: dict[tuple[int, ...], int]
) -> tuple[list[int], list[int]]:
    """Disjoint intervals (starts, chain ids) of nested-or-disjoint blocks (start, end, value),
    the whole space covered from 0; a chain lists the containing blocks, innermost first."""
    events = sorted(blocks, key=lambda b: (b[0], -b[1]))
    bounds: list[int] = [0]
    labels: list[int] = [-1]
    stack: list[tuple[int, int]] = []  # (end, value), innermost last

    def label(at: int) -> None:
        chain = tuple(value for _, value in reversed(stack))
        ident = chain_ids.setdefault(chain, len(chain_ids)) if chain else -1
        if bounds[-1] == at:
            labels[-1] = ident
        elif labels[-1] != ident:
            bounds.append(at)
            labels.append(ident)

    def close_until(at: int) -> None:
        while stack and stack[-1][0] <= at:
            end = stack.pop()[0]
            label(end)

    for start, end, value in events:
        close_until(start)
        stack.append((end, value))
        label(start)
    close_until(1 << 129)
    return bounds, labels


def build_cidrs(blocks: Sequence[tuple[int, int, bool]], row0: int) -> tuple[CidrTable, IntArray]:
    """`blocks` are (network address as 128-bit int, prefix length in 128 bits, written as IPv4)."""
    index: dict[tuple[int, int], int] = {}
    inverse = np.fromiter(
        (index.setdefault((net, plen), len(index)) for net, plen, _ in blocks),
        dtype=np.int64,
        count=len(blocks),
    )
    order, starts = value_runs(inverse, len(index))
    v4: list[tuple[int, int, int]] = []
    v6: list[tuple[int, int, int]] = []
    for value, (net, plen) in enumerate(index):
        end = net + (1 << (128 - plen))
        v6.append((net, end, value))
        if _MAPPED <= net < _MAPPED + _V4_SPACE:
            v4.append((net - _MAPPED, end - _MAPPED, value))
        elif net <= _MAPPED and end >= _MAPPED + _V4_SPACE:
            v4.append((0, _V4_SPACE, value))
    chain_ids: dict[tuple[int, ...], int] = {}
    b4, l4 = _flatten(v4, chain_ids)
    b6, l6 = _flatten(v6, chain_ids)
    while b6 and b6[-1] >= 1 << 128:  # the end of the address space bounds nothing
        b6.pop()
        l6.pop()
    v4_bounds = np.array(b4, dtype=np.uint64)
    buckets = np.arange(1 << 16, dtype=np.uint64) << np.uint64(16)
    v4_first = (np.searchsorted(v4_bounds, buckets, side="right") - 1).astype(np.int32)
    v4_last = (np.searchsorted(v4_bounds, buckets + np.uint64(0xFFFF), side="right") - 1).astype(
        np.int32
    )
    chains = list(chain_ids)
    chain_starts = np.zeros(len(chains) + 1, dtype=np.int32)
    np.cumsum([len(c) for c in chains], out=chain_starts[1:])
    flat = [value for chain in chains for value in chain]
    table = CidrTable(
        row0=row0,
        starts=starts,
        v4_bounds=v4_bounds,
        v4_chain=np.array(l4, dtype=np.int32),
        v4_first=v4_first,
        v4_last=v4_last,
        v6_bounds=b6,
        v6_hi=np.array([b >> 64 for b in b6], dtype=np.uint64),
        v6_lo=np.array([b & M64 for b in b6], dtype=np.uint64),
        v6_chain=np.array(l6, dtype=np.int32),
        chain_starts=chain_starts,
        chain_values=np.array(flat, dtype=np.int32),
        chains=chains,
    )
    return table, order
