"""iocd's own event shape (`domain.telemetry.TelemetryEvent`) as NDJSON, CSV or Parquet.

One object (row) per event, field names as in TelemetryEvent, text values canonical: hashes as
hex, `remote_ip` as text, `time` as ISO 8601 with a zone (`2024-05-01T12:00:00.123456Z`).
Parquet may instead hold EVENT_SCHEMA itself (digests and addresses as bytes): that columnar
form is taken as canonical (it is what iocd writes), only kinds, times and devices are checked.

The fast path is columnar: DuckDB (JSON lines, json_lines.py) or pyarrow (CSV) parses the
whole input and vectorised kernels convert the columns (no Python loop per event). Leniency is
kept: a hash or address that does not convert becomes null; a row without a known `kind`, a
`device_id` or a readable `time` is dropped and counted. If the input cannot be parsed so (a
line that is not a JSON object, a CSV value of the wrong type), the slow path reads it record
by record so that each bad line is reported by number.

Only cheap canonicalisation is done on the fast path: `domain` and `sni` are lower-cased and
lose a trailing dot (non-ASCII values go through `normalise_domain`); `url` is taken as given.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from iocd.codecs.telemetry import common
from iocd.codecs.telemetry.common import ReadReport, Skip, TelemetryReadError
from iocd.codecs.telemetry.containers import Container, Piece, iter_records, line_pieces
from iocd.codecs.telemetry.json_lines import parse_json_lines
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.matching.columns import (
    EVENT_SCHEMA,
    HASH_COLUMNS,
    are_lower_ascii_names,
    events_to_batch,
    hex_to_fixed_binary,
    ip_text_to_binary,
)

PIECE_BYTES = 32 << 20
"""JSON lines are parsed in pieces of about this size (each piece about one scanned batch)."""
_KINDS = pa.array([kind.value for kind in EventKind])
TEXT_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.string())
        if f.name in HASH_COLUMNS or f.name in ("remote_ip", "time")
        else f
        for f in EVENT_SCHEMA
    ]
)
"""The native format as text: what pyarrow reads from NDJSON and CSV."""


def read_native(
    source: bytes | Path, container: Container, where: str, report: ReadReport, batch_size: int
) -> Iterator[pa.RecordBatch]:
    """EVENT_SCHEMA batches of the native events in `source` (bytes, or a Parquet file path)."""
    if container is Container.PARQUET:
        yield from _parquet(source, where, report, batch_size)
        return
    data = source if isinstance(source, bytes) else source.read_bytes()
    if container is Container.JSONL:
        pieces = line_pieces(data, PIECE_BYTES)
        yield from read_json_lines(
            pieces, lambda at: data.count(b"\n", 0, at), where, report, batch_size
        )
        return
    yield from _read_text(data, container, where, report, batch_size)


def read_json_lines(
    pieces: Iterable[Piece],
    lines_before: Callable[[int], int],
    where: str,
    report: ReadReport,
    batch_size: int,
) -> Iterator[pa.RecordBatch]:
    """EVENT_SCHEMA batches of native JSON lines given in pieces (`containers.line_pieces`,
    `file_line_pieces`, each read while it is valid). Each piece is parsed on its own (and,
    when a line in it is bad, read record by record, its lines numbered from
    `lines_before(its offset)`), so the first events are scanned while the rest is still
    being parsed (see read_ahead)."""
    for offset, piece in pieces:
        table = _parse(piece, Container.JSONL)
        if table is None:
            first_line = lines_before(offset) + 1
            yield from _slow(bytes(piece), Container.JSONL, where, report, batch_size, first_line)
        else:
            yield from _converted(table, where, report, batch_size)


def _read_text(
    data: bytes, container: Container, where: str, report: ReadReport, batch_size: int
) -> Iterator[pa.RecordBatch]:
    table = _parse(data, container)
    if table is None:
        yield from _slow(data, container, where, report, batch_size)
    else:
        yield from _converted(table, where, report, batch_size)


def _converted(
    table: pa.Table, where: str, report: ReadReport, batch_size: int
) -> Iterator[pa.RecordBatch]:
    for batch in table.combine_chunks().to_batches(max_chunksize=batch_size):
        converted = from_text_batch(batch, where, report)
        if converted.num_rows:
            yield converted


def _parse(data: bytes | memoryview, container: Container) -> pa.Table | None:
    """The text columns of `data`, or None when they cannot be read so: a line that is not a
    JSON object, a CSV value of the wrong type (the caller reads it record by record)."""
    if container is Container.JSONL:
        return parse_json_lines(data, TEXT_SCHEMA)  # DuckDB: json_lines.py says why
    try:
        return _parse_text(data, container)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None


def _parse_text(data: bytes | memoryview, container: Container) -> pa.Table:
    if container is Container.CSV:
        convert = pcsv.ConvertOptions(
            column_types={f.name: f.type for f in TEXT_SCHEMA},
            include_columns=None,
            strings_can_be_null=True,
        )
        table = pcsv.read_csv(io.BytesIO(data), convert_options=convert)
        missing = [name for name in TEXT_SCHEMA.names if name not in table.column_names]
        for name in missing:
            table = table.append_column(
                TEXT_SCHEMA.field(name), pa.nulls(table.num_rows, TEXT_SCHEMA.field(name).type)
            )
        return table.select(TEXT_SCHEMA.names)
    raise pa.ArrowInvalid("a JSON array is read record by record")


def _parquet(
    source: bytes | Path, where: str, report: ReadReport, batch_size: int
) -> Iterator[pa.RecordBatch]:
    try:
        parquet = pq.ParquetFile(io.BytesIO(source) if isinstance(source, bytes) else source)
        names = [name for name in EVENT_SCHEMA.names if name in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size=batch_size, columns=names):
            converted = from_text_batch(batch, where, report)
            if converted.num_rows:
                yield converted
    except (OSError, ValueError) as exc:  # ArrowIOError, ArrowInvalid
        raise TelemetryReadError(where, f"broken Parquet ({exc})") from None


def from_text_batch(batch: pa.RecordBatch, where: str, report: ReadReport) -> pa.RecordBatch:
    """EVENT_SCHEMA rows from native columns, as text or already binary; vectorised."""
    rows = batch.num_rows
    columns: dict[str, Any] = {}
    for field in EVENT_SCHEMA:
        if field.name in batch.schema.names:
            columns[field.name] = batch.column(field.name)
        else:
            columns[field.name] = pa.nulls(rows, field.type)
    columnar = columns["remote_ip"].type == pa.binary(16)
    for name, width in HASH_COLUMNS.items():
        if columns[name].type != pa.binary(width):
            columnar = False
            columns[name] = hex_to_fixed_binary(columns[name], width)
    if columns["remote_ip"].type != pa.binary(16):
        columns["remote_ip"] = ip_text_to_binary(columns["remote_ip"])
    columns["time"] = _times(columns["time"])
    columns["device_name"] = pc.fill_null(pc.cast(columns["device_name"], pa.string()), "")
    columns["source"] = pc.fill_null(pc.cast(columns["source"], pa.string()), "native")
    columns["device_group"] = pa.nulls(rows, pa.string())
    if not columnar:  # the columnar form (EVENT_SCHEMA in Parquet) is canonical already
        for name in ("domain", "sni"):
            columns[name] = _domains(columns[name])
    arrays = [pc.cast(columns[f.name], f.type) for f in EVENT_SCHEMA]
    keep = pc.and_(
        pc.and_(pc.is_valid(arrays[0]), pc.is_in(arrays[1], value_set=_KINDS)),
        pc.is_valid(arrays[2]),
    )
    keep = pc.fill_null(keep, False)
    dropped = rows - pc.sum(keep).as_py() if rows else 0
    if dropped:
        first = int(np.flatnonzero(~keep.to_numpy(zero_copy_only=False))[0]) + 1
        report.skip(f"{where}:row {first}", "no time, known kind or device_id", dropped)
        arrays = [pc.filter(array, keep) for array in arrays]
    report.events += rows - dropped
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)


def _times(column: Any) -> Any:
    if pa.types.is_timestamp(column.type):
        if column.type.tz is None:
            return pc.assume_timezone(column, "UTC")
        return column
    strings = pc.cast(column, pa.string())
    try:
        return pc.cast(strings, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # some text is not ISO 8601 as is
        return _times_one_by_one(strings)


def _times_one_by_one(strings: Any) -> Any:
    """Each distinct text parsed leniently (common.timestamp); unreadable ones become null."""
    parsed: dict[str, Any] = {}
    values = []
    for value in strings.to_pylist():
        if value not in parsed:
            try:
                parsed[value] = common.timestamp(value)
            except Skip:
                parsed[value] = None
        values.append(parsed[value])
    return pa.array(values, type=pa.timestamp("us", tz="UTC"))


def _domains(column: Any) -> Any:
    strings = pc.cast(column, pa.string())
    if are_lower_ascii_names(strings):  # the usual case: canonical already, nothing to do
        return strings
    lowered = pc.utf8_rtrim(pc.utf8_lower(strings), characters=".")
    if pc.all(pc.fill_null(pc.string_is_ascii(lowered), True)).as_py():
        return lowered
    return pa.array([common.domain(v) for v in strings.to_pylist()], type=pa.string())


def _slow(
    data: bytes,
    container: Container,
    where: str,
    report: ReadReport,
    batch_size: int,
    first_line: int = 1,
) -> Iterator[pa.RecordBatch]:
    events: list[TelemetryEvent] = []
    for location, record in iter_records(data, container, where, report, first_line):
        try:
            events.append(event_from_record(record))
        except Skip as skip:
            report.skip(location, skip.reason)
        if len(events) >= batch_size:
            report.events += len(events)
            yield events_to_batch(events)
            events = []
    if events:
        report.events += len(events)
        yield events_to_batch(events)


def event_from_record(record: Mapping[str, Any]) -> TelemetryEvent:
    """One native record read leniently (the slow path); raises Skip when it is no event."""
    try:
        kind = EventKind(str(record.get("kind")))
    except ValueError:
        raise Skip(f"unknown kind {str(record.get('kind'))[:30]!r}") from None
    device_id = common.text(record.get("device_id"))
    if device_id is None:
        raise Skip("no device_id")
    return TelemetryEvent(
        time=common.timestamp(record.get("time")),
        kind=kind,
        device_id=device_id,
        device_name=common.text(record.get("device_name")) or "",
        sha256=common.hex_digest(record.get("sha256"), 64),
        sha1=common.hex_digest(record.get("sha1"), 40),
        md5=common.hex_digest(record.get("md5"), 32),
        signer_thumbprint=common.hex_digest(record.get("signer_thumbprint"), 40),
        signature_valid=common.flag(record.get("signature_valid")),
        signer_trusted=common.flag(record.get("signer_trusted")),
        file_name=common.text(record.get("file_name")),
        file_path=common.text(record.get("file_path")),
        remote_ip=common.ip_text(record.get("remote_ip")),
        remote_port=common.port(record.get("remote_port")),
        domain=common.domain(record.get("domain")),
        url=common.url(record.get("url")),
        sni=common.domain(record.get("sni")),
        source=common.text(record.get("source")) or "native",
    )
