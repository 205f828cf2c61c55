"""The columns of one Arrow batch as the batch matcher reads them: fixed-size digests and
addresses in place as integer keys, strings as offsets into one padded copy of their bytes with an
eight-byte view at any position, and each string's eight-byte screening window. Read once per
batch and shared by the base and overlay parts (see batch)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from iocd.domain.types import IndicatorType
from iocd.matching.compile import (
    U64,
    BoolArray,
    ExactTable,
    IntArray,
    U64Array,
    strided_keys,
)
from iocd.matching.single import _FILE_FIELDS, url_host


class Hits:
    """Long-form hits: (event row, entity, index row, match kind code)."""

    def __init__(self) -> None:
        self.parts: list[tuple[IntArray, int, IntArray, int]] = []
        self.kinds: list[IntArray] = []

    def add(self, events: IntArray, entity: int, rows: IntArray, kind: int | IntArray) -> None:
        if len(events):
            codes = np.broadcast_to(np.asarray(kind, dtype=np.int64), events.shape)
            self.parts.append((events, entity, rows, 0))
            self.kinds.append(codes)


def column_of(batch: pa.RecordBatch, name: str) -> Any:
    at = batch.schema.get_field_index(name)
    if at < 0:
        return None
    column = batch.column(at)
    if column.null_count == len(column):
        return None
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column


def subset_rows(column: Any) -> IntArray | None:
    """The rows holding a value, when enough are null for working on them alone to pay."""
    if column.null_count * 4 < len(column):
        return None
    rows: IntArray = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
    return rows


def valid_rows(column: Any) -> BoolArray | None:
    if column.null_count == 0:
        return None
    valid: BoolArray = column.is_valid().to_numpy(zero_copy_only=False)
    return valid


class FixedColumn:
    """A fixed_size_binary column read in place: keys (of `rows` only, when given), the
    (n, width) bytes, and the validity of every row when nulls remain among the keys."""

    def __init__(self, column: Any, width: int) -> None:
        count = len(column)
        buffer = column.buffers()[1]
        start = column.offset * width
        self.keys = strided_keys(buffer, start, count, width)
        query = np.frombuffer(buffer, dtype=np.uint8, count=count * width, offset=start)
        self.query = query.reshape(count, width)
        self.rows = subset_rows(column)
        self.valid = None
        if self.rows is not None:
            self.keys = self.keys[self.rows]
        else:
            self.valid = valid_rows(column)

    def find(self, table: ExactTable) -> tuple[IntArray, IntArray]:
        events, values = table.find(self.keys, self.query, self.rows)
        if self.valid is not None:
            keep = self.valid[events]
            events, values = events[keep], values[keep]
        return events, values


def string_views(column: Any) -> tuple[IntArray, IntArray, npt.NDArray[np.uint8], Any]:
    """Starts and ends of each string in a padded copy of the data, and a u64 view at any byte."""
    if pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type):
        kind: Any = np.int64
    else:
        kind = np.int32
    count = len(column)
    buffers = column.buffers()
    offsets = np.frombuffer(buffers[1], dtype=kind)[column.offset : column.offset + count + 1]
    offsets = offsets.astype(np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    padded = np.zeros(last - first + 24, dtype=np.uint8)
    if last > first:
        padded[8 : 8 + last - first] = np.frombuffer(buffers[2], dtype=np.uint8)[first:last]
    view = np.ndarray((len(padded) - 7,), U64, buffer=padded, offset=0, strides=(1,))
    shifted = offsets - (first - 8)
    return shifted[:-1], shifted[1:], padded, view


def keep_top(windows: U64Array, lengths: IntArray) -> U64Array:
    """Zero the low bytes of tail windows of strings shorter than eight bytes (in place)."""
    short = np.flatnonzero(lengths < 8)
    if len(short):
        shift = (8 * (8 - np.clip(lengths[short], 1, 8))).astype(np.uint64)
        kept = (windows[short] >> shift) << shift
        windows[short] = np.where(lengths[short] > 0, kept, np.uint64(0))
    return windows


def keep_low(windows: U64Array, lengths: IntArray) -> U64Array:
    """Zero the high bytes of head windows of strings shorter than eight bytes (in place)."""
    short = np.flatnonzero(lengths < 8)
    if len(short):
        shift = (8 * (8 - np.clip(lengths[short], 1, 8))).astype(np.uint64)
        kept = (windows[short] << shift) >> shift
        windows[short] = np.where(lengths[short] > 0, kept, np.uint64(0))
    return windows


class BatchColumns:
    """The columns of one batch, read once and shared by the base and overlay parts."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.count = batch.num_rows
        self.files: dict[IndicatorType, FixedColumn] = {}
        for field, indicator_type in _FILE_FIELDS:
            column = column_of(batch, field)
            if column is not None:
                width = {"sha256": 32, "md5": 16}.get(field, 20)
                self.files[indicator_type] = FixedColumn(column, width)
        self.ip = column_of(batch, "remote_ip")
        self.ip_parts = FixedColumn(self.ip, 16) if self.ip is not None else None
        domain = column_of(batch, "domain")
        self.url = column_of(batch, "url")
        self.names = [c for c in (domain, column_of(batch, "sni")) if c is not None]
        self.hosts: list[tuple[int, str]] = []
        if self.url is not None:
            loose = self.url.is_valid()
            if domain is not None:
                loose = pc.and_(loose, domain.is_null())
            rows = np.flatnonzero(loose.to_numpy(zero_copy_only=False))
            if len(rows):
                texts = self.url.take(pa.array(rows)).to_pylist()
                for row, text in zip(rows.tolist(), texts, strict=True):
                    host = url_host(text)
                    if host:
                        self.hosts.append((row, host))
        self._windows: dict[tuple[int, str], tuple[U64Array, IntArray, IntArray | None]] = {}
        self._strings: dict[int, tuple[IntArray, IntArray, npt.NDArray[np.uint8], Any]] = {}

    def strings(self, column: Any) -> tuple[IntArray, IntArray, npt.NDArray[np.uint8]]:
        if id(column) not in self._strings:
            self._strings[id(column)] = string_views(column)
        starts, ends, padded, _ = self._strings[id(column)]
        return starts, ends, padded

    def windows(self, column: Any, window: str) -> tuple[U64Array, IntArray, IntArray | None]:
        """Each string's eight-byte window and length (past the scheme for `head`), for the rows
        with a value (`rows`; None: every row, nulls then have length 0)."""
        key = (id(column), window)
        if key not in self._windows:
            self.strings(column)
            starts, ends, padded, view = self._strings[id(column)]
            rows = subset_rows(column)
            if rows is not None:
                starts, ends = starts[rows], ends[rows]
            if window == "tail":
                lengths = ends - starts
                found = keep_top(view[ends - 8], lengths)
            else:
                skip = np.where(padded[np.minimum(starts + 4, len(padded) - 1)] == 115, 8, 7)
                lengths = ends - starts - skip
                at = np.minimum(starts + skip, len(view) - 1)
                found = keep_low(view[at], lengths)
            self._windows[key] = (found, lengths, rows)
        return self._windows[key]
