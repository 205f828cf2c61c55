"""The numpy structures a compiled index is made of. Pure; built once, then only read.

Each table answers two kinds of question over the same arrays: many values at once (numpy, no
Python loop per event: the batch matcher) and one value (a few memoryview reads: the agent).

- `ExactTable`: fixed-width byte values (digests, 16-byte addresses). An open-addressing hash
  table of value indices, linear probing, load factor <= 0.7, keyed by the first and last eight
  bytes; a bitset (16 bits per value) in front of it lets a batch skip almost every miss after one
  gather. A value's indicators occupy a contiguous run of rows (`starts`).
- `NameTable`: domain names and URL keys (without the scheme) in a dict (the agent's look-up) and
  as tabulation hashes in an `ExactTable` (the batch's exact step), plus a bitset over a fixed
  eight-byte window of every value (the last eight bytes of a domain, the first eight after the
  scheme of a URL): an event can only match a value whose window it shares, so only the events
  that pass are hashed; a value shorter than eight bytes gets its own bitset per length.
- `CidrTable`: CIDR blocks flattened into disjoint intervals, each labelled with its chain (every
  block containing it, longest prefix first), found by binary search; IPv4 first goes through a
  table of the 65,536 /16 buckets, so a bucket with one chain (the common case) needs no search.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

U64 = np.dtype("<u8")
M64 = (1 << 64) - 1
MUL = 0x9E3779B97F4A7C15
_MUL = np.uint64(MUL)

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
U64Array = npt.NDArray[np.uint64]
ByteArray = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]

_EMPTY = np.zeros(0, dtype=np.int64)


def scalar_key(value: bytes) -> int:
    """The 64-bit key of a fixed-width value: its first eight bytes XOR its last eight shifted
    by one bit (a bijection when the value is eight bytes)."""
    return int.from_bytes(value[:8], "little") ^ (int.from_bytes(value[-8:], "little") >> 1)


def strided_keys(buffer: Any, offset: int, count: int, width: int) -> U64Array:
    """`scalar_key` of `count` values of `width` bytes laid end to end in `buffer` (no copy in)."""
    if count == 0:
        return np.zeros(0, dtype=np.uint64)
    first = np.ndarray((count,), U64, buffer=buffer, offset=offset, strides=(width,))
    last = np.ndarray((count,), U64, buffer=buffer, offset=offset + width - 8, strides=(width,))
    keys: U64Array = np.bitwise_xor(first, last >> np.uint64(1), dtype=np.uint64)
    return keys


def mixed(keys: U64Array) -> U64Array:
    """Multiplicative hashing (wrapping): the top bits of the product are well spread."""
    return np.multiply(keys, _MUL, dtype=np.uint64)


class Bitset:
    """A one-hash Bloom filter over mixed keys: the top bits of a key pick a 64-bit word, its
    six low bits the bit in that word."""

    __slots__ = ("bits", "shift", "words")

    def __init__(self, mixed_keys: U64Array, bits_per_key: int = 16) -> None:
        count = max(1, len(mixed_keys))
        nbits = max(12, math.ceil(math.log2(count * bits_per_key)))
        self.shift = np.uint64(64 - (nbits - 6))
        self.words = np.zeros(1 << (nbits - 6), dtype=np.uint64)
        np.bitwise_or.at(
            self.words, mixed_keys >> self.shift, np.uint64(1) << (mixed_keys & np.uint64(63))
        )
        self.bits = nbits

    def contains(self, mixed_keys: U64Array) -> U64Array:
        """Non-zero where the key may be present."""
        words = self.words[mixed_keys >> self.shift]
        words >>= mixed_keys & np.uint64(63)
        words &= np.uint64(1)
        found: U64Array = words
        return found

    @property
    def nbytes(self) -> int:
        return int(self.words.nbytes)


def _runs(inverse: IntArray, count: int) -> tuple[IntArray, Int32Array]:
    """A stable order grouping equal values, and the start of each value's run (count + 1)."""
    order = np.argsort(inverse, kind="stable").astype(np.int64)
    counts = np.bincount(inverse, minlength=count)
    starts = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(counts, out=starts[1:])
    return order, starts


@dataclass(frozen=True, eq=False)
class ExactTable:
    """Fixed-width values; value `v` is the indicators at rows `row0 + starts[v] ...`.

    `keys[v]` is the `scalar_key` of value `v`: probing compares keys, and only a key that
    matches has its bytes compared."""

    width: int
    row0: int
    data: bytes
    keys: U64Array
    starts: Int32Array
    slots: Int32Array
    shift: int
    filter: Bitset
    values: ByteArray = field(init=False)
    _slots_view: memoryview = field(init=False)

    def __post_init__(self) -> None:
        values = np.frombuffer(self.data, dtype=np.uint8).reshape(-1, self.width)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_slots_view", memoryview(self.slots.data))

    @property
    def nbytes(self) -> int:
        arrays = int(self.keys.nbytes + self.starts.nbytes + self.slots.nbytes)
        return len(self.data) + arrays + self.filter.nbytes

    def find_one(self, value: bytes) -> int:
        """The value index of `value`, or -1."""
        width, data, slots = self.width, self.data, self._slots_view
        mask = len(slots) - 1
        pos = ((scalar_key(value) * MUL) & M64) >> self.shift
        while True:
            found = slots[pos]
            if found < 0:
                return -1
            if data[found * width : found * width + width] == value:
                return int(found)
            pos = (pos + 1) & mask

    def find(
        self, keys: U64Array, query: ByteArray, rows: IntArray | None = None
    ) -> tuple[IntArray, IntArray]:
        """(query positions, value indices) of the queries present; `query` is (n, width) and
        `keys` its `scalar_key`s, or only those of `rows` (then positions are rows)."""
        hashed = mixed(keys)
        maybe = np.flatnonzero(self.filter.contains(hashed))
        wanted = keys[maybe]
        pos = (hashed[maybe] >> np.uint64(self.shift)).astype(np.int64)
        mask = len(self.slots) - 1
        active = np.arange(len(maybe), dtype=np.int64)
        out_q: list[IntArray] = []
        out_v: list[IntArray] = []
        while active.size:
            found = self.slots[pos]
            present = found >= 0
            if not present.all():
                active, pos, found = active[present], pos[present], found[present]
            same = self.keys[found] == wanted[active]
            if same.any():
                out_q.append(active[same])
                out_v.append(found[same].astype(np.int64))
                other = ~same
                active, pos = active[other], pos[other]
            pos = (pos + 1) & mask
        if not out_q:
            return _EMPTY, _EMPTY
        at, values = np.concatenate(out_q), np.concatenate(out_v)
        events = maybe[at].astype(np.int64)
        if rows is not None:
            events = rows[events]
        width = self.width
        exact = (
            self.values.view(f"V{width}").ravel()[values]
            == np.ascontiguousarray(query[events]).view(f"V{width}").ravel()
        )
        return events[exact], values[exact]


def build_exact(values: ByteArray, row0: int) -> tuple[ExactTable, IntArray]:
    """The table of `values` ((n, width) bytes) and the order to give their indicators rows in."""
    width = values.shape[1]
    unique, inverse = np.unique(
        np.ascontiguousarray(values).view(f"V{width}").ravel(), return_inverse=True
    )
    data = unique.view(np.uint8).tobytes()
    order, starts = _runs(inverse.astype(np.int64).ravel(), len(unique))
    distinct = len(unique)
    tbits = max(4, math.ceil(math.log2(max(1, distinct) / 0.5)))
    shift = 64 - tbits
    slots = np.full(1 << tbits, -1, dtype=np.int32)
    keys = strided_keys(data, 0, distinct, width) if distinct else _EMPTY.view(U64)
    hashed = mixed(keys)
    pending = np.arange(distinct, dtype=np.int64)
    pos = (hashed >> np.uint64(shift)).astype(np.int64)
    mask = len(slots) - 1
    while pending.size:
        free = slots[pos] < 0
        free_at = np.flatnonzero(free)
        taken, first = np.unique(pos[free_at], return_index=True)
        slots[taken] = pending[free_at[first]]
        keep = np.ones(len(pending), dtype=bool)
        keep[free_at[first]] = False
        pending, pos = pending[keep], (pos[keep] + 1) & mask
    table = ExactTable(width, row0, data, keys, starts, slots, shift, Bitset(hashed))
    return table, order


def _window_bitsets(keys: Sequence[bytes], window: str) -> tuple[Bitset | None, dict[int, Bitset]]:
    """Bitsets over each key's eight-byte window (`tail` or `head`), one more per short length."""
    long_keys: list[int] = []
    short: dict[int, list[int]] = {}
    for key in keys:
        if len(key) >= 8:
            long_keys.append(int.from_bytes(key[-8:] if window == "tail" else key[:8], "little"))
        else:
            short.setdefault(len(key), []).append(int.from_bytes(key, "little"))
    long_filter = Bitset(mixed(np.array(long_keys, dtype=np.uint64)), 64) if long_keys else None
    return long_filter, {
        length: Bitset(mixed(np.array(found, dtype=np.uint64)), 64)
        for length, found in sorted(short.items())
    }


_HALF = np.random.default_rng(0x10CD).integers(0, 2**63, size=256 * 256, dtype=np.int64)
_TABLE: U64Array = (_HALF.view(np.uint64) << np.uint64(1)) ^ _HALF[::-1].view(np.uint64)
"""Random words for tabulation hashing of strings, by (distance, byte)."""


def tabulation_prefix(data: ByteArray, distance: IntArray) -> U64Array:
    """XOR prefix `p` (one longer than `data`) of the words of (distance, byte): the hash of
    bytes `[i, j)` is `p[j] ^ p[i]`, when each byte's distance is counted from the same end of
    that string (distances past 255 share the last word)."""
    words = _TABLE[np.minimum(distance, 255) * 256 + data]
    prefix = np.zeros(len(data) + 1, dtype=np.uint64)
    np.bitwise_xor.accumulate(words, out=prefix[1:])
    return prefix


def string_hashes(strings: Sequence[bytes], window: str, chunk: int = 16_384) -> U64Array:
    """The tabulation hash of each string, distances from the end (`tail`) or start (`head`);
    `chunk` strings at a time (the work arrays take 40 bytes per byte of input)."""
    if len(strings) > chunk:
        parts = [
            _string_hashes(strings[at : at + chunk], window) for at in range(0, len(strings), chunk)
        ]
        joined: U64Array = np.concatenate(parts)
        return joined
    return _string_hashes(strings, window)


def _string_hashes(strings: Sequence[bytes], window: str) -> U64Array:
    lengths = np.fromiter((len(s) for s in strings), dtype=np.int64, count=len(strings))
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b"".join(strings), dtype=np.uint8)
    position = np.arange(len(data), dtype=np.int64)
    if window == "tail":
        distance = np.repeat(offsets[1:] - 1, lengths) - position
    else:
        distance = position - np.repeat(offsets[:-1], lengths)
    prefix = tabulation_prefix(data, distance)
    hashes: U64Array = prefix[offsets[1:]] ^ prefix[offsets[:-1]]
    return hashes


@dataclass(frozen=True, eq=False)
class NameTable:
    """Domains (window `tail`) or URL keys without the scheme (window `head`).

    `hashes` holds the tabulation hash of every name; hash value `h` is name
    `by_hash[hashes.starts[h]]` (and the next ones, should two names ever share a hash)."""

    window: str
    row0: int
    index: dict[str, int]
    names: list[str]
    starts: Int32Array
    long_filter: Bitset | None
    short_filters: dict[int, Bitset]
    hashes: ExactTable
    by_hash: Int32Array
    data: ByteArray
    offsets: Int32Array

    @property
    def nbytes(self) -> int:
        filters = self.long_filter.nbytes if self.long_filter else 0
        filters += sum(b.nbytes for b in self.short_filters.values())
        arrays = int(self.starts.nbytes + self.by_hash.nbytes + self.data.nbytes)
        return filters + arrays + int(self.offsets.nbytes) + self.hashes.nbytes

    def equal(
        self, data: ByteArray, starts: IntArray, ends: IntArray, names: IntArray
    ) -> BoolArray:
        """Whether `data[starts[i]:ends[i]]` is name `names[i]`, for every i (vectorised)."""
        first = self.offsets[names].astype(np.int64)
        lengths = ends - starts
        same: BoolArray = lengths == self.offsets[names + 1] - first
        check = np.flatnonzero(same & (lengths > 0))
        if len(check):
            counts = lengths[check]
            base = np.repeat(np.cumsum(counts) - counts, counts)
            within = np.arange(int(counts.sum()), dtype=np.int64) - base
            left = data[np.repeat(starts[check], counts) + within]
            right = self.data[np.repeat(first[check], counts) + within]
            differs = np.add.reduceat((left != right).view(np.uint8), np.cumsum(counts) - counts)
            same[check] = differs == 0
        return same

    def find_hashes(self, hashes: U64Array) -> tuple[IntArray, IntArray]:
        """(positions, name indices) of the hashes that are some name's."""
        query = np.ascontiguousarray(hashes).view(np.uint8).reshape(-1, 8)
        positions, values = self.hashes.find(strided_keys(query, 0, len(hashes), 8), query)
        at, offsets = expand(self.hashes.starts, values)
        return positions[at], self.by_hash[offsets].astype(np.int64)

    def candidates(self, windows: U64Array, lengths: IntArray) -> BoolArray:
        """Which events (their eight-byte window and byte length) may match some value."""
        maybe = np.zeros(len(windows), dtype=np.bool_)
        if self.long_filter is not None:
            maybe |= self.long_filter.contains(mixed(windows)).astype(np.bool_) & (lengths >= 8)
        for length, bits in self.short_filters.items():
            if self.window == "tail":
                part = windows >> np.uint64(8 * (8 - length))
            else:
                part = windows & np.uint64((1 << (8 * length)) - 1)
            maybe |= bits.contains(mixed(part)).astype(np.bool_) & (lengths >= length)
        return maybe


def build_names(names: Sequence[str], window: str, row0: int) -> tuple[NameTable, IntArray]:
    """The table of `names` and the order to give their indicators rows in."""
    index: dict[str, int] = {}
    inverse = np.fromiter(
        (index.setdefault(name, len(index)) for name in names), dtype=np.int64, count=len(names)
    )
    order, starts = _runs(inverse, len(index))
    unique = list(index)
    encoded = [name.encode() for name in unique]
    long_filter, short = _window_bitsets(encoded, window)
    hashes = string_hashes(encoded, window) if encoded else np.zeros(0, dtype=np.uint64)
    by_value, by_hash = build_exact(hashes.view(np.uint8).reshape(-1, 8), 0)
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    table = NameTable(
        window,
        row0,
        index,
        unique,
        starts,
        long_filter,
        short,
        by_value,
        by_hash.astype(np.int32),
        data,
        offsets,
    )
    return table, order


@dataclass(frozen=True, eq=False)
class CidrTable:
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

    @property
    def nbytes(self) -> int:
        arrays = (self.starts, self.v4_bounds, self.v4_chain, self.v4_first, self.v4_last)
        more = (self.v6_hi, self.v6_lo, self.v6_chain, self.chain_starts, self.chain_values)
        return sum(int(a.nbytes) for a in (*arrays, *more)) + 40 * len(self.chains)

    def chain_of_v4(self, address: int) -> int:
        bucket = address >> 16
        first, last = int(self.v4_first[bucket]), int(self.v4_last[bucket])
        if first != last:
            first = bisect.bisect_right(self.v4_bounds, address, first, last + 1) - 1
        return int(self.v4_chain[first])

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
    order, starts = _runs(inverse, len(index))
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


def expand(starts: Int32Array, values: IntArray) -> tuple[IntArray, IntArray]:
    """For value indices `values`, every (position in `values`, row offset) of their runs."""
    first = starts[values].astype(np.int64)
    counts = starts[values + 1].astype(np.int64) - first
    if counts.size and int(counts.max()) == 1 and int(counts.min()) == 1:
        return np.arange(len(values), dtype=np.int64), first
    positions = np.repeat(np.arange(len(values), dtype=np.int64), counts)
    within = np.arange(len(positions), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    return positions, np.repeat(first, counts) + within
