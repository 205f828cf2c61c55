"""Domain names and URL keys, compiled (see matching.compile for the exact values): distinct
names as bytes end to end, an open-addressing table of their hashes (a number in base 256 modulo
a prime, which Python computes in one call and numpy for every suffix or prefix of a batch of
strings from one running sum), plus a bitset over a fixed eight-byte window of every value (the
last eight bytes of a domain, the first eight after the scheme of a URL): an event can only match
a value whose window it shares, so only the events that pass are hashed; a value shorter than
eight bytes gets its own bitset per length. No Python object per name. Pure.

`build_names` takes Arrow strings (the columnar builders; pyarrow is imported then) or a list of
str (a few names: numpy only, as the agent's process builds an overlay).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from iocd.matching.compile import (
    EMPTY,
    M64,
    NO_BYTES,
    U64,
    Bitset,
    BoolArray,
    ByteArray,
    Int32Array,
    IntArray,
    RowRuns,
    U64Array,
    mixed,
    place_slots,
    probe,
    table_bits,
    value_runs,
)

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
class NameTable(RowRuns):
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
    _starts_view: memoryview = field(init=False)
    _order: Literal["big", "little"] = field(init=False)

    def __post_init__(self) -> None:
        views = (
            memoryview(self.slots.data),
            memoryview(self.hashes.data),
            memoryview(self.offsets.data),
            memoryview(self.data.data),
        )
        object.__setattr__(self, "_views", views)
        object.__setattr__(self, "_starts_view", memoryview(self.starts.data))
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
        data, bounds = bytes(self.data), self.offsets.tolist()
        return [str(data[bounds[at] : bounds[at + 1]], "utf-8") for at in range(len(self))]

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
            return EMPTY, EMPTY
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
    names by first appearance). `names`: a list of str, or Arrow strings, chunked or not,
    already dictionary encoded (`pc.dictionary_encode`, which gives every chunk the same
    dictionary) or not."""
    if isinstance(names, list | tuple):
        data, offsets, inverse = _distinct_texts(names)
    else:
        data, offsets, inverse = _distinct_arrow(names)
    del names
    order, starts = value_runs(inverse, len(offsets) - 1)
    del inverse
    long_filter, short = _window_bitsets(data, offsets, window)
    hashes = _name_hashes(data, offsets, window)
    tbits = table_bits(len(hashes))
    slots = place_slots((hashes & np.uint64((1 << tbits) - 1)).astype(np.int64), tbits)
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


def _distinct_texts(names: Sequence[str]) -> tuple[ByteArray, Int32Array, IntArray]:
    """(bytes and offsets of the distinct names by first appearance, each name's index)."""
    index: dict[str, int] = {}
    inverse = np.fromiter(
        (index.setdefault(name, len(index)) for name in names), dtype=np.int64, count=len(names)
    )
    encoded = [name.encode() for name in index]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise ValueError("names take more than 2 GiB")
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    return data, offsets.astype(np.int32), inverse


def _distinct_arrow(names: Any) -> tuple[ByteArray, Int32Array, IntArray]:
    """`_distinct_texts` of Arrow strings, dictionary encoded by Arrow (no Python string)."""
    import pyarrow as pa
    import pyarrow.compute as pc

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
    data, offsets = _string_buffers(unique)
    return data, offsets, inverse


def _string_buffers(texts: Any) -> tuple[ByteArray, Int32Array]:
    """A copy of the bytes of an Arrow string array, and offsets into it from 0 (int32)."""
    import pyarrow as pa

    wide = pa.types.is_large_string(texts.type) or pa.types.is_large_binary(texts.type)
    _, offsets_buffer, data_buffer = texts.buffers()
    bounds = np.frombuffer(offsets_buffer, dtype=np.int64 if wide else np.int32)[
        texts.offset : texts.offset + len(texts) + 1
    ]
    first, last = (int(bounds[0]), int(bounds[-1])) if len(bounds) else (0, 0)
    if last >= 2**31:
        raise ValueError("names take more than 2 GiB")
    raw = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else NO_BYTES
    data = raw[first:last].copy()
    offsets = (bounds - first).astype(np.int32) if len(bounds) else np.zeros(1, np.int32)
    return data, offsets
