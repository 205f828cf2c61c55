"""The numpy structures a compiled index is made of. Pure; built once, then only read.

Each table answers two kinds of question over the same arrays: many values at once (numpy, no
Python loop per event: the batch matcher) and one value (a few memoryview reads: the agent).

- `ExactTable`: fixed-width byte values (digests, 16-byte addresses). An open-addressing hash
  table of value indices, linear probing, load factor <= 0.5, keyed by the first and last eight
  bytes; a bitset (16 bits per value) in front of it lets a batch skip almost every miss after one
  gather. A value's indicators occupy a contiguous run of rows (`starts`).
- `NameTable` (matching.names): domain names and URL keys.
- `CidrTable` (matching.cidrs): CIDR blocks.
"""

from __future__ import annotations

import math
import struct
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

EMPTY = np.zeros(0, dtype=np.int64)
NO_BYTES = np.zeros(0, dtype=np.uint8)


_WORD = struct.Struct("<Q").unpack_from


def scalar_key(value: bytes) -> int:
    """The 64-bit key of a fixed-width value (eight bytes or more): its first eight bytes XOR
    its last eight shifted by one bit (a bijection when the value is eight bytes). Read with
    `struct`, half the time of slicing and `int.from_bytes` (the agent looks up every hash)."""
    key: int = _WORD(value)[0] ^ (_WORD(value, len(value) - 8)[0] >> 1)
    return key


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
    """A one-hash Bloom filter over mixed keys: the top bits of a key pick a 64-bit word, the six
    bits below them the bit in that word. (Only the top bits of a multiplicative hash are well
    spread: its low bits depend on the key's low bits alone, which are the same for every IPv4
    address held as 16 bytes.)"""

    __slots__ = ("_bit_shift", "_shift", "_view", "bit_shift", "bits", "shift", "words")

    def __init__(self, mixed_keys: U64Array, bits_per_key: int = 16) -> None:
        count = max(1, len(mixed_keys))
        nbits = max(12, math.ceil(math.log2(count * bits_per_key)))
        self._shift = 64 - (nbits - 6)
        self._bit_shift = self._shift - 6
        self.shift = np.uint64(self._shift)
        self.bit_shift = np.uint64(self._bit_shift)
        self.words = np.zeros(1 << (nbits - 6), dtype=np.uint64)
        np.bitwise_or.at(self.words, mixed_keys >> self.shift, self._bit_of(mixed_keys))
        self.bits = nbits
        self._view = memoryview(self.words.data)

    @classmethod
    def of_words(cls, words: U64Array, bits: int) -> Bitset:
        """The filter whose words (and size in bits) another one had (a saved index)."""
        made = cls.__new__(cls)
        made._shift = 64 - (bits - 6)
        made._bit_shift = made._shift - 6
        made.shift = np.uint64(made._shift)
        made.bit_shift = np.uint64(made._bit_shift)
        made.words = np.ascontiguousarray(words, dtype=np.uint64)
        made.bits = bits
        made._view = memoryview(made.words.data)
        return made

    def _bit_of(self, mixed_keys: U64Array) -> U64Array:
        shifted: U64Array = np.uint64(1) << ((mixed_keys >> self.bit_shift) & np.uint64(63))
        return shifted

    def has(self, key: int) -> bool:
        """Whether one key (not mixed yet: a 64-bit integer) may be present (no numpy call)."""
        hashed = (key * MUL) & M64
        return bool((self._view[hashed >> self._shift] >> ((hashed >> self._bit_shift) & 63)) & 1)

    def contains(self, mixed_keys: U64Array) -> U64Array:
        """Non-zero where the key may be present."""
        words = self.words[mixed_keys >> self.shift]
        words >>= (mixed_keys >> self.bit_shift) & np.uint64(63)
        words &= np.uint64(1)
        found: U64Array = words
        return found

    @property
    def nbytes(self) -> int:
        return int(self.words.nbytes)


def value_runs(inverse: IntArray, count: int) -> tuple[IntArray, Int32Array]:
    """A stable order grouping equal values, and the start of each value's run (count + 1)."""
    order = np.argsort(inverse, kind="stable").astype(np.int64)
    counts = np.bincount(inverse, minlength=count)
    starts = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(counts, out=starts[1:])
    return order, starts


def probe(
    slots: Int32Array, slot_keys: Any, wanted: Any, pos: IntArray, *, every: bool
) -> tuple[IntArray, IntArray]:
    """Linear probing of an open-addressing table, vectorised over queries: (query index,
    entry) of every entry whose key `slot_keys[entry]` equals `wanted[query]`, from slot
    `pos[query]` on until an empty slot. `every`: keep probing past a match (names may share a
    hash); otherwise a query stops at its first match (exact values are unique)."""
    mask = len(slots) - 1
    active = np.arange(len(wanted), dtype=np.int64)
    out_q: list[IntArray] = []
    out_v: list[IntArray] = []
    while active.size:
        found = slots[pos]
        present = found >= 0
        if not present.all():
            active, pos, found = active[present], pos[present], found[present]
        same = slot_keys[found] == wanted[active]
        if same.any():
            out_q.append(active[same])
            out_v.append(found[same].astype(np.int64))
            if not every:
                other = ~same
                active, pos = active[other], pos[other]
        pos = (pos + 1) & mask
    if not out_q:
        return EMPTY, EMPTY
    return np.concatenate(out_q), np.concatenate(out_v)


class RowRuns:
    """`rows(value)` of a table whose value `v` holds the indicator rows `row0 + starts[v]`
    up to `row0 + starts[v + 1]`, read through `_starts_view` (a memoryview of `starts`:
    Python integers, no numpy scalar per value, for the agent's one-event look-ups)."""

    row0: int
    _starts_view: memoryview

    def rows(self, value: int) -> range:
        starts = self._starts_view
        return range(self.row0 + starts[value], self.row0 + starts[value + 1])


@dataclass(frozen=True, eq=False)
class ExactTable(RowRuns):
    """Fixed-width values; value `v` is the indicators at rows `row0 + starts[v] ...`.

    `keys[v]` is the `scalar_key` of value `v`: probing compares keys, and only a key that
    matches has its bytes compared."""

    width: int
    row0: int
    data: bytes | memoryview  # a memoryview when read from a saved part (no copy)
    keys: U64Array
    starts: Int32Array
    slots: Int32Array
    shift: int
    filter: Bitset
    values: ByteArray = field(init=False)
    _slots_view: memoryview = field(init=False)
    _starts_view: memoryview = field(init=False)

    def __post_init__(self) -> None:
        values = np.frombuffer(self.data, dtype=np.uint8).reshape(-1, self.width)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_slots_view", memoryview(self.slots.data))
        object.__setattr__(self, "_starts_view", memoryview(self.starts.data))

    @property
    def nbytes(self) -> int:
        arrays = int(self.keys.nbytes + self.starts.nbytes + self.slots.nbytes)
        return len(self.data) + arrays + self.filter.nbytes

    def find_one(self, value: bytes) -> int:
        """The value index of `value`, or -1 (always for a value of another width)."""
        if len(value) != self.width:
            return -1
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
        at, values = probe(self.slots, self.keys, wanted, pos, every=False)
        if not len(at):
            return EMPTY, EMPTY
        events = maybe[at].astype(np.int64)
        if rows is not None:
            events = rows[events]
        width = self.width
        exact = (
            self.values.view(f"V{width}").ravel()[values]
            == np.ascontiguousarray(query[events]).view(f"V{width}").ravel()
        )
        return events[exact], values[exact]


def place_slots(pos: IntArray, tbits: int) -> Int32Array:
    """Open addressing (linear probing) of entries `0 .. n-1` in a table of `2**tbits` slots
    (-1: empty), entry `i` in the first free slot from `pos[i]`."""
    slots = np.full(1 << tbits, -1, dtype=np.int32)
    pending = np.arange(len(pos), dtype=np.int64)
    mask = len(slots) - 1
    while pending.size:
        free = slots[pos] < 0
        free_at = np.flatnonzero(free)
        taken, first = np.unique(pos[free_at], return_index=True)
        slots[taken] = pending[free_at[first]]
        keep = np.ones(len(pending), dtype=bool)
        keep[free_at[first]] = False
        pending, pos = pending[keep], (pos[keep] + 1) & mask
    return slots


def table_bits(count: int) -> int:
    """Slot-table size (log2) for `count` entries: load factor at most one half."""
    return max(4, math.ceil(math.log2(max(1, count) / 0.5)))


def build_exact(values: ByteArray, row0: int) -> tuple[ExactTable, IntArray]:
    """The table of `values` ((n, width) bytes) and the order to give their indicators rows in."""
    width = values.shape[1]
    unique, inverse = np.unique(
        np.ascontiguousarray(values).view(f"V{width}").ravel(), return_inverse=True
    )
    distinct = len(unique)
    data = unique.view(np.uint8).tobytes()
    del unique
    order, starts = value_runs(inverse.astype(np.int64).ravel(), distinct)
    del inverse
    tbits = table_bits(distinct)
    keys = strided_keys(data, 0, distinct, width) if distinct else EMPTY.view(U64)
    hashed = mixed(keys)
    slots = place_slots((hashed >> np.uint64(64 - tbits)).astype(np.int64), tbits)
    table = ExactTable(width, row0, data, keys, starts, slots, 64 - tbits, Bitset(hashed))
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
