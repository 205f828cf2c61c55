"""The policy an agent holds, on the wire: entry lines, their digest, snapshots and deltas.

A device's view is the active indicators whose scope is all devices or includes its group. Each
entry of a view has one canonical line (`entry_line`); its SHA-256 is the entry hash, and the
digest of a view is the XOR of its entry hashes (order-independent, so an upsert or a removal
changes it by XOR-ing one hash out and one in; `"0" * 64` for an empty view). Server and agent
compute it the same way from this module, so a digest match proves that both hold the same view.

Snapshot: an Arrow IPC stream (zstd-compressed buffers) of SNAPSHOT_SCHEMA, one record batch
per chunk of rows. Delta: JSON (`update_to_wire`), entries as `entry_to_wire` writes them. The
line, hash and digest functions live in matching.entries and the delta encoding in
matching.delta; both are re-exported here, so agents import everything from this module.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType
from iocd.errors import InvalidInput
from iocd.matching.delta import (
    DELTA,
    SNAPSHOT_REQUIRED,
    UNCHANGED,
    PolicyUpdate,
    apply_update,
    entry_from_wire,
    entry_to_wire,
    update_from_wire,
    update_to_wire,
)
from iocd.matching.entries import (
    AUTHORITY_OF,
    AUTHORITY_TEXT,
    EMPTY_DIGEST,
    combine,
    entry_hash,
    entry_line,
    xor_digest,
)

__all__ = [
    "ACTIONS",
    "AUTHORITIES",
    "AUTHORITY_OF",
    "AUTHORITY_TEXT",
    "DELTA",
    "EMPTY_DIGEST",
    "MEDIA_TYPE",
    "SNAPSHOT_REQUIRED",
    "SNAPSHOT_SCHEMA",
    "TYPES",
    "UNCHANGED",
    "PolicyUpdate",
    "SnapshotWriter",
    "apply_update",
    "batch_hashes",
    "batch_listed",
    "combine",
    "decode_snapshot",
    "encode_snapshot",
    "entry_from_wire",
    "entry_hash",
    "entry_line",
    "entry_to_wire",
    "listed_to_batch",
    "snapshot_batch",
    "snapshot_digest",
    "snapshot_listed",
    "update_from_wire",
    "update_to_wire",
    "xor_digest",
]

MEDIA_TYPE = "application/vnd.apache.arrow.stream"

TYPES = pa.array([t.value for t in IndicatorType], pa.string())
ACTIONS = pa.array([a.value for a in Action], pa.string())
AUTHORITIES = pa.array(["group", "organisation"], pa.string())
_DICT = pa.dictionary(pa.int8(), pa.string())

SNAPSHOT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("type", _DICT, nullable=False),
        pa.field("value", pa.string(), nullable=False),
        pa.field("action", _DICT, nullable=False),
        pa.field("groups", pa.list_(pa.string()), nullable=False),
        pa.field("authority", _DICT, nullable=False),
        pa.field("overridden", pa.bool_(), nullable=False),
        pa.field("generate_alert", pa.bool_(), nullable=False),
        pa.field("sequence", pa.int64(), nullable=False),
    ]
)
"""Columns of a snapshot. The dictionaries of type, action and authority are fixed (every enum
text, in enum order), so every batch of a stream shares them."""


def batch_hashes(batch: pa.RecordBatch) -> bytes:
    """The entry hashes of a SNAPSHOT_SCHEMA batch, concatenated (row order); one SHA-256 per
    row over a line built columnar (no Python object per row but the hash)."""
    if not batch.num_rows:
        return b""
    flag = {True: "1", False: "0"}

    def text(name: str) -> Any:
        column = batch.column(name)
        return column.dictionary_decode() if pa.types.is_dictionary(column.type) else column

    # Lists are written sorted (listed_to_batch, and the store keeps group names sorted).
    lines = pc.binary_join_element_wise(
        pc.cast(batch.column("id"), pa.string()),
        text("type"),
        text("value"),
        text("action"),
        pc.binary_join(batch.column("groups"), ","),
        text("authority"),
        pc.if_else(batch.column("overridden"), flag[True], flag[False]),
        pc.if_else(batch.column("generate_alert"), flag[True], flag[False]),
        "|",
    )
    lines = lines.cast(pa.large_string()) if lines.type != pa.large_string() else lines
    _validity, offsets_buffer, data_buffer = lines.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        lines.offset : lines.offset + len(lines) + 1
    ].tolist()
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    sha256 = hashlib.sha256
    return b"".join(sha256(data[start:end]).digest() for start, end in itertools.pairwise(offsets))


# -- snapshots --------------------------------------------------------------------------------


def _array(values: Any, kind: pa.DataType) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == kind else values.cast(kind)
    return pa.array(values, kind)


def _codes(values: Any, dictionary: pa.Array) -> pa.DictionaryArray:
    indices = pc.index_in(_array(values, pa.string()), value_set=dictionary)
    if indices.null_count:
        raise InvalidInput("snapshot", "an entry has an unknown type, action or authority")
    return pa.DictionaryArray.from_arrays(indices.cast(pa.int8()), dictionary)


def snapshot_batch(
    ids: Any,
    types: Any,
    values: Any,
    actions: Any,
    groups: Any,
    authorities: Any,
    overridden: Any,
    generate_alert: Any,
    sequences: Any,
) -> pa.RecordBatch:
    """A SNAPSHOT_SCHEMA batch from columns (lists, numpy or Arrow arrays; texts as strings,
    groups as sorted lists)."""
    return pa.RecordBatch.from_arrays(
        [
            _array(ids, pa.int64()),
            _codes(types, TYPES),
            _array(values, pa.string()),
            _codes(actions, ACTIONS),
            _array(groups, pa.list_(pa.string())),
            _codes(authorities, AUTHORITIES),
            _array(overridden, pa.bool_()),
            _array(generate_alert, pa.bool_()),
            _array(sequences, pa.int64()),
        ],
        schema=SNAPSHOT_SCHEMA,
    )


def listed_to_batch(items: Sequence[ListedIndicator]) -> pa.RecordBatch:
    return snapshot_batch(
        [i.id for i in items],
        [i.indicator_type.value for i in items],
        [i.value for i in items],
        [i.action.value for i in items],
        [sorted(i.groups) for i in items],
        [AUTHORITY_TEXT[i.authority] for i in items],
        [i.overridden for i in items],
        [i.generate_alert for i in items],
        [i.sequence for i in items],
    )


class SnapshotWriter:
    """Writes batches to an Arrow IPC stream (zstd buffers) in memory; `finish()` gives it."""

    def __init__(self) -> None:
        self._sink = io.BytesIO()
        options = pa.ipc.IpcWriteOptions(compression="zstd")
        self._writer = pa.ipc.new_stream(self._sink, SNAPSHOT_SCHEMA, options=options)
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self._writer.write_batch(batch)
            self.rows += batch.num_rows

    def finish(self) -> bytes:
        self._writer.close()
        return self._sink.getvalue()


def encode_snapshot(batches: Iterable[pa.RecordBatch]) -> bytes:
    writer = SnapshotWriter()
    for batch in batches:
        writer.write(batch)
    return writer.finish()


def decode_snapshot(data: bytes) -> Iterator[pa.RecordBatch]:
    """The batches of a snapshot stream (InvalidInput if it is not one)."""
    try:
        reader = pa.ipc.open_stream(pa.py_buffer(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput("snapshot", f"not an Arrow IPC stream ({exc})") from None
    if not reader.schema.equals(SNAPSHOT_SCHEMA):
        raise InvalidInput("snapshot", "the snapshot's columns are not SNAPSHOT_SCHEMA")
    yield from reader


def batch_listed(batch: pa.RecordBatch) -> Iterator[ListedIndicator]:
    """The entries of one snapshot batch as ListedIndicator values."""
    types = [IndicatorType(t) for t in TYPES.to_pylist()]
    actions = [Action(a) for a in ACTIONS.to_pylist()]
    authorities = [AUTHORITY_OF[a] for a in AUTHORITIES.to_pylist()]
    columns = [batch.column(name) for name in SNAPSHOT_SCHEMA.names]
    ids, kinds, values, acts, groups, auths, over, alert, seqs = columns
    for row in zip(
        ids.to_pylist(),
        kinds.indices.to_pylist(),
        values.to_pylist(),
        acts.indices.to_pylist(),
        groups.to_pylist(),
        auths.indices.to_pylist(),
        over.to_pylist(),
        alert.to_pylist(),
        seqs.to_pylist(),
        strict=True,
    ):
        yield ListedIndicator(
            row[0],
            types[row[1]],
            row[2],
            actions[row[3]],
            frozenset(row[4]),
            authorities[row[5]],
            row[6],
            row[7],
            row[8],
        )


def snapshot_listed(data: bytes) -> Iterator[ListedIndicator]:
    for batch in decode_snapshot(data):
        yield from batch_listed(batch)


def snapshot_digest(data: bytes) -> str:
    """The digest of the view a snapshot holds, computed from its rows."""
    return xor_digest(b"".join(batch_hashes(b) for b in decode_snapshot(data)))
