"""Telemetry readers: files or request bodies in any supported format -> EVENT_SCHEMA batches.

    read_telemetry(paths)           files (gzip or not), format detected per file
    read_records(data)              the bytes of an HTTP upload (JSON array, NDJSON, gzip)
    detect_format(path)             which reader a file needs

Formats: `native` (iocd's own event shape, read columnar), `sysmon`, `zeek`, `ecs`, `defender`
(read record by record). Containers: JSON lines, JSON array, CSV, Parquet, Zeek TSV; gzip is
recognised by its magic bytes. See docs/telemetry.md for the field mapping of each format.

Bad input: a record that is not an event iocd reads, or one bad line, is skipped and counted in
the `ReadReport` the caller passes in (with `file:line` of the first few); an input that cannot
be read at all raises `TelemetryReadError` (an `InvalidInput`) naming the input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import StrEnum
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from iocd.codecs.telemetry import defender, ecs, native, sysmon, zeek
from iocd.codecs.telemetry.common import ReadReport, Skip, TelemetryReadError
from iocd.codecs.telemetry.containers import (
    GZIP_MAGIC,
    PARQUET_MAGIC,
    Container,
    decompress,
    file_head,
    file_line_pieces,
    iter_records,
    newlines_before,
    sniff,
)
from iocd.domain.telemetry import TelemetryEvent
from iocd.matching.columns import events_to_batch

__all__ = [
    "ReadReport",
    "TelemetryFormat",
    "TelemetryReadError",
    "detect_format",
    "read_records",
    "read_telemetry",
]


class TelemetryFormat(StrEnum):
    NATIVE = "native"
    SYSMON = "sysmon"
    ZEEK = "zeek"
    ECS = "ecs"
    DEFENDER = "defender"


_READERS: dict[TelemetryFormat, Callable[[Mapping[str, Any], str], TelemetryEvent]] = {
    TelemetryFormat.SYSMON: sysmon.event_from_record,
    TelemetryFormat.ZEEK: zeek.event_from_record,
    TelemetryFormat.ECS: ecs.event_from_record,
    TelemetryFormat.DEFENDER: defender.event_from_record,
}
_NATIVE_KEYS = frozenset({"time", "kind", "device_id"})
_SNIFF_RECORDS = 20
_SNIFF_BYTES = 1 << 20
"""JSON lines are sniffed from their first MiB (cut after a newline), not split whole (a CSV
cell may hold a newline, so CSV is sniffed from the whole input)."""


def format_of_record(record: Mapping[str, Any]) -> TelemetryFormat | None:
    """The format one record is in, or None when it does not say."""
    if record.keys() >= _NATIVE_KEYS:
        return TelemetryFormat.NATIVE
    if sysmon.is_sysmon(record):
        return TelemetryFormat.SYSMON
    if zeek.is_zeek(record):
        return TelemetryFormat.ZEEK
    if defender.is_defender(record):
        return TelemetryFormat.DEFENDER
    if ecs.is_ecs(record):
        return TelemetryFormat.ECS
    return None


def _detect(data: bytes, container: Container, where: str) -> TelemetryFormat:
    if container is Container.ZEEK_TSV:
        return TelemetryFormat.ZEEK
    if container is Container.PARQUET:
        names = pq.ParquetFile(pa.BufferReader(data)).schema_arrow.names
        found = format_of_record(dict.fromkeys(names))
    else:
        found = None
        sample = ReadReport()
        head = _head(data) if container is Container.JSONL else data
        for _, record in islice(iter_records(head, container, where, sample), _SNIFF_RECORDS):
            found = format_of_record(record)
            if found is not None:
                break
    return _told(found, where)


def _told(found: TelemetryFormat | None, where: str) -> TelemetryFormat:
    if found is None:
        raise TelemetryReadError(
            where, "cannot tell the telemetry format (native, sysmon, zeek, ecs, defender)"
        )
    return found


def _head(data: bytes) -> bytes:
    """The first lines of `data`: about _SNIFF_BYTES, cut after a newline (all of a short input)."""
    cut = data.find(b"\n", _SNIFF_BYTES)
    return data if cut < 0 else data[: cut + 1]


def _parquet_format(path: Path) -> TelemetryFormat:
    """The format of a Parquet file, from its schema (read from the file's footer only)."""
    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except (OSError, ValueError) as exc:  # ArrowIOError, ArrowInvalid
        raise TelemetryReadError(str(path), f"broken Parquet ({exc})") from None
    return _told(format_of_record(dict.fromkeys(names)), str(path))


def detect_format(path: Path) -> TelemetryFormat:
    """The format of a file, from its first records (or its Zeek header / Parquet schema)."""
    where = str(path)
    data = _load(path)
    return _detect(data, sniff(data, where), where)


def read_telemetry(
    paths: Sequence[Path],
    fmt: TelemetryFormat | None = None,
    batch_size: int = 65536,
    report: ReadReport | None = None,
) -> Iterator[pa.RecordBatch]:
    """EVENT_SCHEMA batches of every event in `paths`, in file order.

    `fmt` forces a format for every file; by default each file's format is detected. Skips are
    counted in `report` when given. A native Parquet file is read straight from disk.
    """
    report = report if report is not None else ReadReport()
    for path in paths:
        where = str(path)
        if fmt in (None, TelemetryFormat.NATIVE) and _is_plain_parquet(path):
            if fmt is None:
                found = _parquet_format(path)
                if found is not TelemetryFormat.NATIVE:
                    yield from _read(_load(path), where, found, batch_size, report)
                    continue
            yield from native.read_native(path, Container.PARQUET, where, report, batch_size)
            continue
        yield from _read_file(path, where, fmt, batch_size, report)


def _read_file(
    path: Path, where: str, fmt: TelemetryFormat | None, batch_size: int, report: ReadReport
) -> Iterator[pa.RecordBatch]:
    """A file's events: native JSON lines streamed from the file in pieces (the bulk of big
    inputs: no copy of the whole file in memory), anything else loaded whole."""
    try:
        with path.open("rb") as stream:
            head = file_head(stream, _SNIFF_BYTES)
    except OSError as exc:
        raise TelemetryReadError(where, f"cannot read the file ({exc.strerror})") from None
    if head.startswith(GZIP_MAGIC) or sniff(head, where) is not Container.JSONL:
        yield from _read(_load(path), where, fmt, batch_size, report)
        return
    found = fmt or _detect(head, Container.JSONL, where)
    if found is not TelemetryFormat.NATIVE:
        yield from _read(_load(path), where, found, batch_size, report)
        return
    try:
        with path.open("rb") as stream:
            pieces = file_line_pieces(stream, native.PIECE_BYTES)
            yield from native.read_json_lines(
                pieces, partial(_newlines_before, path), where, report, batch_size
            )
    except OSError as exc:
        raise TelemetryReadError(where, f"cannot read the file ({exc.strerror})") from None


def _newlines_before(path: Path, offset: int) -> int:
    with path.open("rb") as stream:
        return newlines_before(stream, offset)


def read_records(
    data: bytes,
    fmt: TelemetryFormat | None = None,
    batch_size: int = 65536,
    report: ReadReport | None = None,
    name: str = "request body",
) -> Iterator[pa.RecordBatch]:
    """EVENT_SCHEMA batches from uploaded bytes: JSON array, NDJSON, CSV or Parquet, gzip or not.

    `name` is how the input is called in the report and in errors.
    """
    report = report if report is not None else ReadReport()
    yield from _read(decompress(data, name), name, fmt, batch_size, report)


def _load(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TelemetryReadError(str(path), f"cannot read the file ({exc.strerror})") from None
    return decompress(data, str(path))


def _is_plain_parquet(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            head = stream.read(4)
    except OSError:
        return False
    return head == PARQUET_MAGIC and head[:2] != GZIP_MAGIC


def _read(
    data: bytes,
    where: str,
    fmt: TelemetryFormat | None,
    batch_size: int,
    report: ReadReport,
) -> Iterator[pa.RecordBatch]:
    container = sniff(data, where)
    found = fmt or _detect(data, container, where)
    if found is TelemetryFormat.NATIVE:
        yield from native.read_native(data, container, where, report, batch_size)
        return
    reader = _READERS[found]
    events: list[TelemetryEvent] = []
    for location, record in iter_records(data, container, where, report):
        try:
            events.append(reader(record, where))
        except Skip as skip:
            report.skip(location, skip.reason)
            continue
        if len(events) >= batch_size:
            report.events += len(events)
            yield events_to_batch(events)
            events = []
    if events:
        report.events += len(events)
        yield events_to_batch(events)
