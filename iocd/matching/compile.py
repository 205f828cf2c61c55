"""The numpy structures a compiled index is made of. Pure; built once, then only read.

Each table answers two kinds of question over the same arrays: many values at once (numpy, no
Python loop per event: the batch matcher) and one value (a few memoryview reads: the agent).

- `ExactTable`: fixed-width byte values (digests, 16-byte addresses). An open-addressing hash
  table of value indices, linear probing, load factor <= 0.5, keyed by the first and last eight
  bytes; a bitset (16 bits per value) in front of it lets a batch skip almost every miss after one
  gather. A value's indicators occupy a contiguous run of rows (`starts`).
- `NameTable`: distinct domain names and URL keys (without the scheme) as bytes end to end, an
  open-addressing table of their hashes (a number in base 256 modulo a prime, which Python
  computes in one call and numpy for every suffix or prefix of a batch of strings from one
  running sum), plus a bitset over a fixed eight-byte window of every value (the last eight
  bytes of a domain, the first eight after the scheme of a URL): an event can only match a value
  whose window it shares, so only the events that pass are hashed; a value shorter than eight
  bytes gets its own bitset per length. No Python object per name.
- `CidrTable`: CIDR blocks flattened into disjoint intervals, each labelled with its chain (every
  block containing it, longest prefix first), found by binary search; IPv4 first goes through a
  table of the 65,536 /16 buckets, so a bucket with one chain (the common case) needs no search.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

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
_NO_BYTES = np.zeros(0, dtype=np.uint8)


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

    __slots__ = ("_shift", "_view", "bits", "shift", "words")

    def __init__(self, mixed_keys: U64Array, bits_per_key: int = 16) -> None:
        count = max(1, len(mixed_keys))
        nbits = max(12, math.ceil(math.log2(count * bits_per_key)))
        self.shift = np.uint64(64 - (nbits - 6))
        self.words = np.zeros(1 << (nbits - 6), dtype=np.uint64)
        np.bitwise_or.at(
            self.words, mixed_keys >> self.shift, np.uint64(1) << (mixed_keys & np.uint64(63))
        )
        self.bits = nbits
        self._view = memoryview(self.words.data)
        self._shift = 64 - (nbits - 6)

    def has(self, key: int) -> bool:
        """Whether one key (not mixed yet: a 64-bit integer) may be present (no numpy call)."""
        hashed = (key * MUL) & M64
        return bool((self._view[hashed >> self._shift] >> (hashed & 63)) & 1)

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
        return _EMPTY, _EMPTY
    return np.concatenate(out_q), np.concatenate(out_v)


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
        at, values = probe(self.slots, self.keys, wanted, pos, every=False)
        if not len(at):
            return _EMPTY, _EMPTY
        events = maybe[at].astype(np.int64)
        if rows is not None:
            events = rows[events]
        width = self.width
        exact = (
            self.values.view(f"V{width}").ravel()[values]
            == np.ascontiguousarray(query[events]).view(f"V{width}").ravel()
        )
        return events[exact], values[exact]


def _place(pos: IntArray, tbits: int) -> Int32Array:
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


def _table_bits(count: int) -> int:
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
    order, starts = _runs(inverse.astype(np.int64).ravel(), distinct)
    del inverse
    tbits = _table_bits(distinct)
    keys = strided_keys(data, 0, distinct, width) if distinct else _EMPTY.view(U64)
    hashed = mixed(keys)
    slots = _place((hashed >> np.uint64(64 - tbits)).astype(np.int64), tbits)
    table = ExactTable(width, row0, data, keys, starts, slots, 64 - tbits, Bitset(hashed))
    return table, order


NAME_PRIME = 1_073_741_789
"""Names are hashed as a number in base 256 modulo this prime (below 2**30): a domain as its
bytes big-endian (each byte weighted by its distance from the end), a URL key little-endian
(by its distance from the start). Python computes it with `int.from_bytes(key) % NAME_PRIME`;
numpy for every suffix or prefix of many strings at once from one running sum (`name_prefix`)."""

_SAFE_SUM = 1 << 25
"""Bytes past which the running sum of `name_prefix` reduces each term first (no overflow)."""


class _Powers:
    """256**d modulo NAME_PRIME for d = 0, 1, ... (grown by doubling on demand, then kept)."""

    table: U64Array = np.ones(1, dtype=np.uint64)

    @classmethod
    def upto(cls, count: int) -> U64Array:
        powers = cls.table
        while len(powers) < count:
            step = np.uint64(pow(256, len(powers), NAME_PRIME))
            powers = np.concatenate([powers, powers * step % np.uint64(NAME_PRIME)])
        cls.table = powers
        return powers


def name_hash(key: bytes, window: str) -> int:
    """The hash of one name or key (see NAME_PRIME); `window` is `tail` (domains) or `head`."""
    return int.from_bytes(key, "big" if window == "tail" else "little") % NAME_PRIME


def name_prefix(data: ByteArray, distance: IntArray) -> U64Array:
    """Running sum `p` (one longer than `data`) of each byte times 256**its distance (counted
    from the same end of its string, see NAME_PRIME): the hash of bytes `[i, j)` of one string
    is `(p[j] - p[i]) % NAME_PRIME` (`substring_hashes`)."""
    powers = _Powers.upto(int(distance.max()) + 1 if len(distance) else 1)
    terms = powers[distance] * data
    if len(data) >= _SAFE_SUM:
        terms %= np.uint64(NAME_PRIME)
    prefix = np.zeros(len(data) + 1, dtype=np.uint64)
    np.cumsum(terms, out=prefix[1:])
    return prefix


def substring_hashes(prefix: U64Array, begin: IntArray, end: IntArray) -> U64Array:
    """The hashes of bytes `[begin, end)`, each within one string (see `name_prefix`)."""
    hashes: U64Array = (prefix[end] - prefix[begin]) % np.uint64(NAME_PRIME)
    return hashes


def _name_hashes(data: ByteArray, offsets: Int32Array, window: str) -> U64Array:
    """The hash of each string `data[offsets[i]:offsets[i + 1]]`, about 256 KiB at a time
    (the work arrays take some 40 bytes per byte)."""
    count = len(offsets) - 1
    hashes = np.zeros(count, dtype=np.uint64)
    first = 0
    while first < count:
        last = int(np.searchsorted(offsets, offsets[first] + (1 << 18), side="right")) - 1
        last = min(count, max(last, first + 1))
        bounds = offsets[first : last + 1].astype(np.int64)
        lengths = np.diff(bounds)
        position = np.arange(int(bounds[0]), int(bounds[-1]), dtype=np.int64)
        if window == "tail":
            distance = np.repeat(bounds[1:] - 1, lengths) - position
        else:
            distance = position - np.repeat(bounds[:-1], lengths)
        prefix = name_prefix(data[bounds[0] : bounds[-1]], distance)
        local = bounds - bounds[0]
        hashes[first:last] = substring_hashes(prefix, local[:-1], local[1:])
        first = last
    return hashes


def _window_keys(data: ByteArray, offsets: Int32Array, window: str) -> tuple[U64Array, IntArray]:
    """Each string's eight-byte window as a little-endian integer (its last eight bytes for
    `tail`, first eight for `head`; a shorter string: all its bytes), and its length."""
    count = len(offsets) - 1
    starts = offsets[:-1].astype(np.int64)
    ends = offsets[1:].astype(np.int64)
    lengths = ends - starts
    padded = np.zeros(len(data) + 16, dtype=np.uint8)
    padded[8 : 8 + len(data)] = data
    view = np.ndarray((len(padded) - 7,), U64, buffer=padded, offset=0, strides=(1,))
    at = np.where((lengths >= 8) & (window == "tail"), ends - 8, starts) + 8
    keys = view[at] if count else np.zeros(0, dtype=np.uint64)
    short = lengths < 8
    if short.any():
        bits = (8 * np.minimum(lengths[short], 8)).astype(np.uint64)
        masks = np.where(
            bits > 0, np.uint64(M64) >> (np.uint64(64) - np.maximum(bits, 1)), np.uint64(0)
        )
        keys[short] &= masks.astype(np.uint64)
    return keys.astype(np.uint64), lengths


def _window_bitsets(
    data: ByteArray, offsets: Int32Array, window: str
) -> tuple[Bitset | None, dict[int, Bitset]]:
    """Bitsets over each name's eight-byte window, one more per length under eight bytes."""
    keys, lengths = _window_keys(data, offsets, window)
    long = lengths >= 8
    long_filter = Bitset(mixed(keys[long]), 64) if long.any() else None
    short = {
        length: Bitset(mixed(keys[lengths == length]), 64)
        for length in np.unique(lengths[~long]).tolist()
    }
    return long_filter, short


@dataclass(frozen=True, eq=False)
class NameTable:
    """Domains (window `tail`) or URL keys without the scheme (window `head`), distinct.

    Name `v` is bytes `data[offsets[v]:offsets[v + 1]]` (UTF-8), its indicators the rows
    `row0 + starts[v] ...`. `hashes[v]` is its hash (see NAME_PRIME); `slots` an open-addressing
    table of name indices, from slot `hash % len(slots)` (the hash is already well spread;
    linear probing, load factor <= 0.5), behind a bitset. Two
    names can share a hash: a look-up compares the bytes, and a batch follows the probe
    sequence to its end. No Python object per name: one value is looked up with a few
    memoryview reads (the agent), many with numpy (the batch)."""

    window: str
    row0: int
    starts: Int32Array
    long_filter: Bitset | None
    short_filters: dict[int, Bitset]
    hashes: npt.NDArray[np.uint32]
    slots: Int32Array
    filter: Bitset
    data: ByteArray
    offsets: Int32Array
    _views: tuple[memoryview, memoryview, memoryview, memoryview] = field(init=False)
    _order: Literal["big", "little"] = field(init=False)

    def __post_init__(self) -> None:
        views = (
            memoryview(self.slots.data),
            memoryview(self.hashes.data),
            memoryview(self.offsets.data),
            memoryview(self.data.data),
        )
        object.__setattr__(self, "_views", views)
        object.__setattr__(self, "_order", "big" if self.window == "tail" else "little")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def nbytes(self) -> int:
        filters = self.long_filter.nbytes if self.long_filter else 0
        filters += sum(b.nbytes for b in self.short_filters.values()) + self.filter.nbytes
        arrays = (self.starts, self.hashes, self.slots, self.data, self.offsets)
        return filters + sum(int(a.nbytes) for a in arrays)

    def name(self, value: int) -> str:
        """The text of name `value`."""
        offsets = self._views[2]
        return str(self._views[3][offsets[value] : offsets[value + 1]], "utf-8")

    def names(self) -> list[str]:
        """Every name, by index (a Python string each: for a compaction, not for matching)."""
        texts = pa.Array.from_buffers(
            pa.string(),
            len(self),
            [None, pa.py_buffer(self.offsets), pa.py_buffer(self.data)],
        )
        names: list[str] = texts.to_pylist()
        return names

    def find_one(self, key: bytes) -> int:
        """The index of name `key` (UTF-8 bytes), or -1."""
        slots, hashes, offsets, data = self._views
        wanted = int.from_bytes(key, self._order) % NAME_PRIME
        mask = len(slots) - 1
        pos = wanted & mask
        while True:
            found = slots[pos]
            if found < 0:
                return -1
            if hashes[found] == wanted and data[offsets[found] : offsets[found + 1]] == key:
                return int(found)
            pos = (pos + 1) & mask

    def find_domain(self, name: bytes) -> list[tuple[int, bool]]:
        """(name index, whether a parent) of the names that are `name` or a parent of it with
        two labels or more (`single.domain_keys`, on bytes). Every suffix of eight bytes or
        more shares the last eight bytes of `name`: one bitset test screens them all."""
        out: list[tuple[int, bool]] = []
        size = len(name)
        long_passed: bool | None = None
        start = 0
        while True:
            rest = size - start
            if rest >= 8:
                if long_passed is None:
                    bits = self.long_filter
                    long_passed = bits is not None and bits.has(int.from_bytes(name[-8:], "little"))
                passed = long_passed
            else:
                short = self.short_filters.get(rest)
                passed = short is not None and short.has(int.from_bytes(name[start:], "little"))
            if passed:
                value = self.find_one(name[start:] if start else name)
                if value >= 0:
                    out.append((value, start > 0))
            dot = name.find(b".", start)
            if dot < 0 or name.find(b".", dot + 1) < 0:
                return out  # no parent with two labels left
            start = dot + 1

    def find_keys(self, keys: Sequence[bytes]) -> list[tuple[int, int]]:
        """(position in `keys`, name index) of the keys that are names, one at a time: each key
        is screened by the window bitsets first (once for keys sharing their window, as the
        suffixes of a domain and the prefixes of a URL mostly do), and only then hashed."""
        out: list[tuple[int, int]] = []
        tail = self.window == "tail"
        long_filter, short_filters = self.long_filter, self.short_filters
        slots, hashes, offsets, data = self._views
        order, mask = self._order, len(slots) - 1
        last: bytes | None = None
        passed = False
        for at, key in enumerate(keys):
            size = len(key)
            if size >= 8:
                window = key[-8:] if tail else key[:8]
                if window != last:
                    last = window
                    passed = long_filter is not None and long_filter.has(
                        int.from_bytes(window, "little")
                    )
                if not passed:
                    continue
            else:
                bits = short_filters.get(size)
                if bits is None or not bits.has(int.from_bytes(key, "little")):
                    continue
            wanted = int.from_bytes(key, order) % NAME_PRIME  # find_one, inline
            pos = wanted & mask
            while True:
                found = slots[pos]
                if found < 0:
                    break
                if hashes[found] == wanted and data[offsets[found] : offsets[found + 1]] == key:
                    out.append((at, int(found)))
                    break
                pos = (pos + 1) & mask
        return out

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
        """(positions, name indices): every name whose hash is `hashes[position]` (a position
        can appear more than once when names share a hash; compare the bytes after)."""
        maybe = np.flatnonzero(self.filter.contains(mixed(hashes)))
        wanted = hashes[maybe].astype(np.uint32)
        pos = (hashes[maybe] & np.uint64(len(self.slots) - 1)).astype(np.int64)
        at, names = probe(self.slots, self.hashes, wanted, pos, every=True)
        if not len(at):
            return _EMPTY, _EMPTY
        return maybe[at].astype(np.int64), names

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


def build_names(names: Any, window: str, row0: int) -> tuple[NameTable, IntArray]:
    """The table of `names` and the order to give their indicators rows in (grouped by name,
    names by first appearance). `names`: Arrow strings, chunked or not, already dictionary
    encoded (`pc.dictionary_encode`, which gives every chunk the same dictionary) or not, or
    a list of str."""
    if not isinstance(names, pa.Array | pa.ChunkedArray):
        names = pa.array(names, pa.string())
    if isinstance(names, pa.ChunkedArray) and not names.num_chunks:
        names = pa.array([], pa.string())
    if not pa.types.is_dictionary(names.type):
        names = pc.dictionary_encode(names)
    chunks = names.chunks if isinstance(names, pa.ChunkedArray) else [names]
    unique = chunks[0].dictionary
    inverse = np.concatenate(
        [c.indices.to_numpy(zero_copy_only=False).astype(np.int64) for c in chunks]
    )
    del chunks, names
    order, starts = _runs(inverse, len(unique))
    del inverse
    data, offsets = _string_buffers(unique)
    del unique
    long_filter, short = _window_bitsets(data, offsets, window)
    hashes = _name_hashes(data, offsets, window)
    tbits = _table_bits(len(hashes))
    slots = _place((hashes & np.uint64((1 << tbits) - 1)).astype(np.int64), tbits)
    table = NameTable(
        window,
        row0,
        starts,
        long_filter,
        short,
        hashes.astype(np.uint32),
        slots,
        Bitset(mixed(hashes)),
        data,
        offsets,
    )
    return table, order


def _string_buffers(texts: pa.Array) -> tuple[ByteArray, Int32Array]:
    """A copy of the bytes of an Arrow string array, and offsets into it from 0 (int32)."""
    wide = pa.types.is_large_string(texts.type) or pa.types.is_large_binary(texts.type)
    _, offsets_buffer, data_buffer = texts.buffers()
    bounds = np.frombuffer(offsets_buffer, dtype=np.int64 if wide else np.int32)[
        texts.offset : texts.offset + len(texts) + 1
    ]
    first, last = (int(bounds[0]), int(bounds[-1])) if len(bounds) else (0, 0)
    if last >= 2**31:
        raise ValueError("names take more than 2 GiB")
    raw = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else _NO_BYTES
    data = raw[first:last].copy()
    offsets = (bounds - first).astype(np.int32) if len(bounds) else np.zeros(1, np.int32)
    return data, offsets


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
