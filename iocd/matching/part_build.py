"""Compiling an index part straight from Arrow columns, record batch by record batch.

`PartBuilder.add(batch)` takes a matching.snapshot.SNAPSHOT_SCHEMA batch (the agent's snapshot
stream, the server's `Store.policy_rows`) and keeps only compact columns of it: numpy codes per
row, digests decoded from hex to bytes (vectorised: a nibble look-up table over the string
buffer), addresses, domains and URL keys as Arrow strings. `finish()` compiles the tables
(matching.compile, names, cidrs) and gives a `PartData` in row order. No Python object is made
per indicator but for the address texts the tables hold anyway, and for values that do not compile
(`skipped`: kept as ListedIndicator, they are few). Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.types import Action, IndicatorType
from iocd.matching.addresses import cidr, ip_packed
from iocd.matching.cidrs import CidrTable, build_cidrs
from iocd.matching.compile import ExactTable, IntArray, build_exact
from iocd.matching.entries import AUTHORITY_OF
from iocd.matching.names import build_names
from iocd.matching.part_data import (
    ACTION_CODE,
    ACTIONS,
    ALERT,
    AUTHORITY,
    HASH_WIDTHS,
    HTTPS,
    NONE,
    OVERRIDDEN,
    TYPE_CODE,
    TYPES,
    PartData,
    TextColumn,
    code_dtype,
    narrow,
)

__all__ = [
    "ACTIONS",
    "ALERT",
    "AUTHORITY",
    "HASH_WIDTHS",
    "HTTPS",
    "OVERRIDDEN",
    "TYPES",
    "PartBuilder",
    "PartData",
    "hex_rows",
    "narrow",
    "text_column",
]

_AUTHORITY_FLAG = {
    text: AUTHORITY if authority is Authority.ORGANISATION else 0
    for text, authority in AUTHORITY_OF.items()
}

_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = "^" + r"\.".join(f"(?P<o{at}>{_OCTET[1:-1]})" for at in range(4)) + "$"
"""An IPv4 address exactly as inet_pton (ip_packed) takes it: four decimal octets up to 255,
no leading zero; other address texts go through ip_packed one by one."""


def _nothing() -> None:
    pass


def _url_key(texts: pa.Array) -> pa.Array:
    """URLs without their scheme (what a URL table holds); "" for text without `://`."""
    keys = pc.replace_substring_regex(texts, "^.*?://", "", max_replacements=1)
    schemes = pc.match_substring(texts, "://")
    if schemes.null_count or not pc.all(schemes).as_py():
        keys = pc.if_else(schemes, keys, "")
    return keys


_HEX_CHUNK = 1 << 16
"""Rows of hex digests decoded at once (bounds the work arrays, which cache-sized chunks also
make faster)."""
_NIBBLE = np.full(256, 255, dtype=np.uint8)  # hex digit -> its value; 255: not a hex digit
_NIBBLE[np.frombuffer(b"0123456789abcdefABCDEF", np.uint8)] = [*range(16), *range(10, 16)]


def _codes(column: Any, code_of: Any, dtype: Any) -> Any:
    """Per-row codes of a dictionary (or string) column, through `code_of(text)`."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    remap = np.array([code_of(text) for text in column.dictionary.to_pylist()] or [0], dtype)
    return remap[column.indices.to_numpy(zero_copy_only=False).astype(np.int64)]


def text_column(texts: pa.Array) -> TextColumn:
    """A copy of an Arrow string array as a TextColumn (numpy bytes and offsets)."""
    raw, offsets = _string_rows(texts)
    first, last = int(offsets[0]), int(offsets[-1])
    return TextColumn(raw[first:last].copy(), narrow(offsets - first))


def _string_rows(texts: pa.Array) -> tuple[Any, IntArray]:
    """The data bytes and the offsets (len + 1) of a string array."""
    texts = texts.cast(pa.large_string())
    _, offsets, data = texts.buffers()
    starts = np.frombuffer(offsets, dtype=np.int64)[texts.offset : texts.offset + len(texts) + 1]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return raw, starts


def hex_rows(texts: pa.Array, width: int) -> tuple[Any, Any]:
    """((k, width) bytes of the values that are hex digests of `width` bytes, which rows those
    are); a row with anything else (whitespace, another length) goes through bytes.fromhex."""
    count = len(texts)
    raw, offsets = _string_rows(texts)
    simple = np.flatnonzero(np.diff(offsets) == 2 * width)
    good = np.zeros(count, dtype=np.bool_)
    values = np.zeros((count, width), dtype=np.uint8)
    span = np.arange(2 * width, dtype=np.int64)
    for first in range(0, len(simple), _HEX_CHUNK):  # a chunk's index matrix: 32 MiB at most
        rows = simple[first : first + _HEX_CHUNK]
        nibbles = _NIBBLE[raw[offsets[rows][:, None] + span]]
        valid = (nibbles != 255).all(axis=1)
        nib = nibbles[valid]
        values[rows[valid]] = (nib[:, 0::2] << 4) | nib[:, 1::2]
        good[rows[valid]] = True
    for row in np.flatnonzero(~good).tolist():
        try:
            value = bytes.fromhex(str(texts[row].as_py()))
        except ValueError:
            continue
        if len(value) == width:
            values[row] = np.frombuffer(value, dtype=np.uint8)
            good[row] = True
    return values[good], good


class PartBuilder:
    """Collects SNAPSHOT_SCHEMA batches; `finish()` compiles them into one part.

    `between_stages`, when given, is called after each table is built and its inputs dropped
    (the agent gives its allocators the freed memory back there, which lowers its peak)."""

    def __init__(self, between_stages: Callable[[], None] | None = None) -> None:
        self._between = between_stages or _nothing
        self.count = 0
        self._columns: dict[str, list[Any]] = {
            name: [] for name in ("ids", "sequences", "types", "actions", "flags", "scopes")
        }
        self._scope_code: dict[frozenset[str], int] = {frozenset(): 0}
        self._values: dict[IndicatorType, list[tuple[IntArray, Any]]] = {t: [] for t in TYPES}
        self._dropped: list[tuple[int, str]] = []

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        rows = batch.num_rows
        if not rows:
            return
        if isinstance(batch, pa.Table):
            batch = batch.combine_chunks().to_batches()[0]
        column = batch.column
        types = _codes(column("type"), lambda t: TYPE_CODE[IndicatorType(t)], np.uint8)
        flags = _codes(column("authority"), _AUTHORITY_FLAG.__getitem__, np.uint8)
        flags |= column("overridden").to_numpy(zero_copy_only=False) * np.uint8(OVERRIDDEN)
        flags |= column("generate_alert").to_numpy(zero_copy_only=False) * np.uint8(ALERT)
        values = column("value")
        https = pc.starts_with(values, "https://").to_numpy(zero_copy_only=False)
        flags |= (https & (types == TYPE_CODE[IndicatorType.URL])) * np.uint8(HTTPS)
        put = self._columns
        put["ids"].append(narrow(column("id").to_numpy()))
        put["sequences"].append(narrow(column("sequence").to_numpy()))
        put["types"].append(types)
        put["actions"].append(_codes(column("action"), lambda a: ACTION_CODE[Action(a)], np.uint8))
        put["flags"].append(flags)
        put["scopes"].append(self._scopes(column("groups")))
        for code in np.unique(types).tolist():
            kind = TYPES[code]
            at = np.flatnonzero(types == code)
            texts = values.take(pa.array(at)) if len(at) < rows else values
            positions = narrow(at + self.count)
            width = HASH_WIDTHS.get(kind)
            if width is not None:
                digests, good = hex_rows(texts, width)
                for row in np.flatnonzero(~good).tolist():
                    self._dropped.append((int(positions[row]), str(texts[row].as_py())))
                self._values[kind].append((positions[good], digests))
            else:
                self._values[kind].append((positions, texts))
        self.count += rows

    def _scopes(self, groups: Any) -> Any:
        codes = np.zeros(len(groups), dtype=np.int32)
        named = np.flatnonzero(pc.list_value_length(groups).to_numpy(zero_copy_only=False) > 0)
        if len(named):
            joined = pc.binary_join(groups.take(pa.array(named)), "\x1f").dictionary_encode()
            known = self._scope_code
            remap = np.array(
                [
                    known.setdefault(frozenset(text.split("\x1f")), len(known))
                    for text in joined.dictionary.to_pylist()
                ],
                dtype=np.int32,
            )
            codes[named] = remap[joined.indices.to_numpy(zero_copy_only=False)]
        return codes

    def finish(self) -> PartData:
        """The compiled part; the builder is spent afterwards. Each type's values are dropped
        as soon as its table is built, and each column once it is in row order."""
        columns: dict[str, Any] = {}
        for name in list(self._columns):
            parts = self._columns.pop(name)
            columns[name] = np.concatenate(parts) if parts else NONE
            del parts
        self._between()
        rows: list[Any] = []
        size = 0
        exact: dict[IndicatorType, ExactTable] = {}
        for kind in HASH_WIDTHS:
            found = self._values.pop(kind)
            if not found or not sum(len(p) for p, _ in found):
                continue
            positions = np.concatenate([p for p, _ in found])
            digests = np.concatenate([d for _, d in found])
            del found
            exact[kind], order = build_exact(digests, size)
            del digests
            rows.append(positions[order])
            del positions
            size += len(order)
            self._between()
        ip_row0 = size
        ip, cidrs, ip_texts, size = self._addresses(rows, size)
        self._between()
        domains = urls = None
        for kind in (IndicatorType.DOMAIN_NAME, IndicatorType.URL):
            found = self._values.pop(kind)
            if not found:
                continue
            positions = np.concatenate([p for p, _ in found])
            chunks = [t for _, t in found]
            del found
            if kind is IndicatorType.URL:  # one chunk at a time, each dropped once replaced
                chunks = [_url_key(chunks.pop(0)) for _ in range(len(chunks))]
            encoded = pc.dictionary_encode(pa.chunked_array(chunks, pa.string()))
            del chunks
            window = "tail" if kind is IndicatorType.DOMAIN_NAME else "head"
            table, order = build_names(encoded, window, size)
            del encoded
            if kind is IndicatorType.URL:
                urls = table
            else:
                domains = table
            rows.append(positions[order])
            del positions
            size += len(order)
            self._between()
        order = np.concatenate(rows) if rows else NONE
        del rows
        scope_sets = tuple(self._scope_code)
        skipped = [self._listed(columns, p, text, scope_sets) for p, text in self._dropped]
        self._dropped = []
        ordered = {name: columns.pop(name)[order] for name in list(columns)}
        del order
        return PartData(
            exact,
            ip_row0,
            ip,
            cidrs,
            ip_texts,
            domains,
            urls,
            narrow(ordered.pop("ids")),
            narrow(ordered.pop("sequences")),
            ordered.pop("types").astype(np.uint8),
            ordered.pop("actions").astype(np.uint8),
            ordered.pop("flags").astype(np.uint8),
            ordered.pop("scopes").astype(code_dtype(len(scope_sets))),
            scope_sets,
            sorted(skipped, key=lambda i: i.id),
        )

    def _addresses(
        self, rows: list[Any], size: int
    ) -> tuple[ExactTable | None, CidrTable | None, TextColumn, int]:
        found = self._values.pop(IndicatorType.IP_ADDRESS)
        if not found:
            return None, None, text_column(pa.array([], pa.string())), size
        positions = np.concatenate([p for p, _ in found])
        texts = pa.chunked_array([t for _, t in found], pa.string()).combine_chunks()
        del found
        count = len(texts)
        packed = np.zeros((count, 16), dtype=np.uint8)
        is_address = np.zeros(count, dtype=np.bool_)
        quads = pc.fill_null(pc.match_substring_regex(texts, _DOTTED_QUAD), False)
        simple = np.flatnonzero(quads.to_numpy(zero_copy_only=False))
        if len(simple):
            octets = pc.extract_regex(texts.take(pa.array(simple)), _DOTTED_QUAD)
            packed[simple, 10:12] = 0xFF
            for at in range(4):
                field = octets.field(f"o{at}")
                packed[simple, 12 + at] = pc.cast(field, pa.uint8()).to_numpy()
            is_address[simple] = True
            del octets
        slashed = pc.match_substring(texts, "/").to_numpy(zero_copy_only=False)
        others = np.flatnonzero(~is_address)
        blocks: list[tuple[int, int, bool]] = []
        block_at: list[int] = []
        if len(others):  # addresses that are not plain dotted quads, and CIDR blocks
            other_texts = texts.take(pa.array(others)).to_pylist()
            for at, text in zip(others.tolist(), other_texts, strict=True):
                if slashed[at]:
                    parsed = cidr(text)
                    if parsed is not None:
                        blocks.append((parsed[0], parsed[1], False))
                        block_at.append(at)
                        continue
                    address = None
                else:
                    address = ip_packed(text)
                if address is None:
                    self._dropped.append((int(positions[at]), text))
                    continue
                packed[at] = np.frombuffer(address[0], dtype=np.uint8)
                is_address[at] = True
        kept: list[Any] = []
        ip, cidrs = None, None
        if is_address.any():
            local = np.flatnonzero(is_address)
            ip, order = build_exact(packed[local], size)
            del packed
            placed = local[order]
            rows.append(positions[placed])
            kept.append(placed)
            size += len(order)
        if blocks:
            cidrs, order = build_cidrs(blocks, size)
            placed = np.array(block_at, dtype=np.int64)[order]
            rows.append(positions[placed])
            kept.append(placed)
            size += len(order)
        ip_texts = texts.take(pa.array(np.concatenate(kept))) if kept else texts.slice(0, 0)
        return ip, cidrs, text_column(ip_texts), size

    @staticmethod
    def _listed(
        columns: dict[str, Any], at: int, value: str, scope_sets: tuple[frozenset[str], ...]
    ) -> ListedIndicator:
        flags = int(columns["flags"][at])
        return ListedIndicator(
            id=int(columns["ids"][at]),
            indicator_type=TYPES[int(columns["types"][at])],
            value=value,
            action=ACTIONS[int(columns["actions"][at])],
            groups=scope_sets[int(columns["scopes"][at])],
            authority=Authority.ORGANISATION if flags & AUTHORITY else Authority.GROUP,
            overridden=bool(flags & OVERRIDDEN),
            generate_alert=bool(flags & ALERT),
            sequence=int(columns["sequences"][at]),
        )
