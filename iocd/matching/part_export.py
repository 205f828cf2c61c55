"""A compiled part written back as columns: every row's value text rebuilt from the tables'
bytes (vectorised), and the rows as a snapshot batch. What a compaction and the agent's cache
rewrite fold, with no Python object per indicator. Pure."""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iocd.matching.compile import IntArray
from iocd.matching.part_build import ALERT, AUTHORITY, HTTPS, OVERRIDDEN
from iocd.matching.snapshot import ACTIONS as WIRE_ACTIONS
from iocd.matching.snapshot import AUTHORITIES as WIRE_AUTHORITIES
from iocd.matching.snapshot import SNAPSHOT_SCHEMA
from iocd.matching.snapshot import TYPES as WIRE_TYPES

if TYPE_CHECKING:
    from iocd.matching.index import Part

NO_ROWS = np.zeros(0, dtype=np.int64)
_AUTHORITY, _OVERRIDDEN, _ALERT, _HTTPS = AUTHORITY, OVERRIDDEN, ALERT, HTTPS


def part_values(part: Part) -> pa.Array:
    """The value text of every row, in row order, as one Arrow string array: built from
    the tables' bytes with vectorised operations (no Python string per row)."""
    pieces: list[tuple[int, pa.Array]] = []
    for table in part.exact.values():
        width = 2 * table.width
        hexed = np.frombuffer(binascii.hexlify(table.data), dtype=np.uint8).reshape(-1, width)
        rows = np.repeat(hexed, np.diff(table.starts), axis=0)
        offsets = np.arange(len(rows) + 1, dtype=np.int32) * width
        pieces.append((table.row0, _strings(len(rows), offsets, rows)))
    texts = part.ip_texts
    if len(texts):
        offsets = texts.offsets.astype(np.int32)
        pieces.append((part.ip_row0, _strings(len(texts), offsets, texts.data)))
    for names in (part.domains, part.urls):
        if names is None:
            continue
        count = len(names.offsets) - 1
        every = _strings(count, names.offsets.astype(np.int32), names.data)
        runs = np.diff(names.starts)
        texts = every.take(pa.array(np.repeat(np.arange(count, dtype=np.int32), runs)))
        if names is part.urls:
            https = part.flags[names.row0 : names.row0 + len(texts)] & _HTTPS != 0
            scheme = pc.if_else(pa.array(https), "https://", "http://")
            texts = pc.binary_join_element_wise(scheme, texts, "")
        pieces.append((names.row0, texts))
    pieces.sort(key=lambda piece: piece[0])
    if not pieces:
        return pa.array([], pa.string())
    return pa.concat_arrays([texts for _, texts in pieces])


def part_batch(part: Part, dead_rows: IntArray = NO_ROWS) -> pa.RecordBatch:
    """Every row but `dead_rows` as one SNAPSHOT_SCHEMA batch (columnar: what a compaction
    or a cache rewrite folds, with no Python object per indicator)."""
    flags = part.flags
    groups = pa.array([sorted(s) for s in part.scope_sets], pa.list_(pa.string()))
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array(part.ids.astype(np.int64)),
            pa.DictionaryArray.from_arrays(pa.array(part.types.astype(np.int8)), WIRE_TYPES),
            part_values(part),
            pa.DictionaryArray.from_arrays(pa.array(part.actions.astype(np.int8)), WIRE_ACTIONS),
            groups.take(pa.array(part.scopes)),
            pa.DictionaryArray.from_arrays(
                pa.array((flags & _AUTHORITY != 0).astype(np.int8)), WIRE_AUTHORITIES
            ),
            pa.array(flags & _OVERRIDDEN != 0),
            pa.array(flags & _ALERT != 0),
            pa.array(part.sequences.astype(np.int64)),
        ],
        schema=SNAPSHOT_SCHEMA,
    )
    if not len(dead_rows):
        return batch
    keep = np.ones(part.size, dtype=np.bool_)
    keep[dead_rows] = False
    return batch.filter(pa.array(keep))


def _strings(count: int, offsets: Any, data: Any) -> pa.Array:
    """A string array of `count` values over `data` bytes and `offsets` (int32, count + 1)."""
    return pa.StringArray.from_buffers(
        count, pa.py_buffer(np.ascontiguousarray(offsets)), pa.py_buffer(np.ascontiguousarray(data))
    )
