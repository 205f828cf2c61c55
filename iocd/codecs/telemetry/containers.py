"""Containers: how records are packed in bytes, apart from what they say.

JSON lines, a JSON array, CSV (with header), Parquet and Zeek's TSV (`#fields` header), each
optionally gzip-compressed (recognised by its magic bytes, whatever the file is called). A
container yields `(where, record)` pairs, `where` being `name:line` (or `name:record N`) so
that every skipped record can be found again.

Bad input policy: one bad line (broken JSON, a non-object) is skipped and reported, the rest
is read. A whole input that cannot be read (broken gzip, a JSON array cut short, bytes that
are none of these containers) raises TelemetryReadError naming the input.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import pyarrow.parquet as pq

from iocd.codecs.telemetry.common import ReadReport, TelemetryReadError

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
Record = dict[str, Any]


class Container(StrEnum):
    JSONL = "jsonl"
    JSON_ARRAY = "json"
    CSV = "csv"
    PARQUET = "parquet"
    ZEEK_TSV = "zeek-tsv"


def decompress(data: bytes, where: str) -> bytes:
    """`data` itself, or its gunzipped content when it starts with the gzip magic bytes."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise TelemetryReadError(where, f"broken gzip data ({exc})") from None


def sniff(data: bytes, where: str) -> Container:
    """The container of (decompressed) `data`, from its first bytes."""
    if data.startswith(PARQUET_MAGIC):
        return Container.PARQUET
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"#separator") or head.startswith(b"#fields"):
        return Container.ZEEK_TSV
    if head.startswith(b"["):
        return Container.JSON_ARRAY
    if head.startswith(b"{"):
        return Container.JSONL
    if not head:
        return Container.JSONL  # empty input: no records
    first_line = head.split(b"\n", 1)[0]
    if b"," in first_line or b"\t" in first_line:
        return Container.CSV
    raise TelemetryReadError(where, "not JSON lines, a JSON array, CSV, Parquet or Zeek TSV")


def iter_records(
    data: bytes, container: Container, where: str, report: ReadReport, first_line: int = 1
) -> Iterator[tuple[str, Record]]:
    """Every record of `data` with its location; bad lines are skipped into `report`.
    `first_line` numbers the first line of JSON lines that are a piece of a larger file."""
    if container is Container.JSONL:
        yield from _json_lines(data, where, report, first_line)
    elif container is Container.JSON_ARRAY:
        yield from _json_array(data, where, report)
    elif container is Container.CSV:
        yield from _csv_rows(data, where)
    elif container is Container.PARQUET:
        yield from _parquet_rows(data, where)
    else:
        yield from _zeek_tsv(data, where, report)


Piece = tuple[int, memoryview]
"""Whole JSON lines from a larger input: the offset of its first byte, and its bytes."""


def line_pieces(data: bytes, size: int) -> Iterator[Piece]:
    """`data` cut after a newline about every `size` bytes; the pieces are views, not copies."""
    view = memoryview(data)
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + size)
        end = len(data) if end < 0 else end + 1
        yield start, view[start:end]
        start = end


def file_line_pieces(stream: io.BufferedIOBase, size: int) -> Iterator[Piece]:
    """The lines of `stream` in pieces of at most about `size` bytes (more only for a longer
    line), each cut after a newline (the last may lack it).

    Every piece is read into the same buffer, so a piece is valid only until the next one is
    asked for: no fresh memory for each piece (page faults cost more than the parse's copy).
    """
    buffer = bytearray(max(size, 1))
    view = memoryview(buffer)
    offset = filled = 0
    while True:
        got = stream.readinto(view[filled:])
        filled += got
        if got and filled < len(buffer):
            continue  # a short read: fill the buffer first
        if not got:  # the end of the file
            if filled:
                yield offset, view[:filled]
            return
        cut = buffer.rfind(b"\n", 0, filled) + 1
        if not cut:  # one line longer than the buffer: a larger one
            buffer = buffer + bytes(len(buffer))
            view = memoryview(buffer)
            continue
        yield offset, view[:cut]
        view[: filled - cut] = view[cut:filled]
        offset, filled = offset + cut, filled - cut


def file_head(stream: io.BufferedIOBase, size: int) -> bytes:
    """The first `size` bytes of `stream` and the rest of the line the next byte is in (the
    whole stream when it is shorter)."""
    head = stream.read(size)
    if len(head) < size:
        return head
    while True:
        more = stream.read(1 << 16)
        cut = more.find(b"\n")
        if cut >= 0:
            return head + more[: cut + 1]
        if not more:
            return head
        head += more


def newlines_before(stream: io.BufferedIOBase, offset: int) -> int:
    """How many newlines `stream` has in its first `offset` bytes (read from where it is)."""
    count = 0
    while offset > 0:
        chunk = stream.read(min(offset, 1 << 20))
        if not chunk:
            break
        count += chunk.count(b"\n")
        offset -= len(chunk)
    return count


def _json_lines(
    data: bytes, where: str, report: ReadReport, first_line: int = 1
) -> Iterator[tuple[str, Record]]:
    for number, line in enumerate(data.split(b"\n"), start=first_line):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            report.skip(f"{where}:{number}", f"not valid JSON ({_short(exc)})")
            continue
        if not isinstance(record, dict):
            report.skip(f"{where}:{number}", "not a JSON object")
            continue
        yield f"{where}:{number}", record


def _json_array(data: bytes, where: str, report: ReadReport) -> Iterator[tuple[str, Record]]:
    try:
        records = json.loads(data)
    except json.JSONDecodeError as exc:
        raise TelemetryReadError(
            f"{where}:{exc.lineno}", f"not valid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except UnicodeDecodeError as exc:
        raise TelemetryReadError(where, f"not UTF-8 text ({exc.reason})") from None
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            yield f"{where}:record {number}", record
        else:
            report.skip(f"{where}:record {number}", "not a JSON object")


def _csv_rows(data: bytes, where: str) -> Iterator[tuple[str, Record]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TelemetryReadError(where, f"not UTF-8 text ({exc.reason})") from None
    # newline="" keeps CR characters inside quoted fields (Defender exports have them).
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            yield f"{where}:{reader.line_num}", dict(row)
    except csv.Error as exc:
        raise TelemetryReadError(f"{where}:{reader.line_num}", f"broken CSV ({exc})") from None


def _parquet_rows(data: bytes, where: str) -> Iterator[tuple[str, Record]]:
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        number = 0
        for batch in parquet.iter_batches(batch_size=8192):
            for row in batch.to_pylist():
                number += 1
                yield f"{where}:record {number}", row
    except (OSError, ValueError) as exc:  # ArrowIOError, ArrowInvalid
        raise TelemetryReadError(where, f"broken Parquet ({_short(exc)})") from None


def _zeek_tsv(data: bytes, where: str, report: ReadReport) -> Iterator[tuple[str, Record]]:
    """Zeek's default writer: `#` header lines, then one tab-separated row per record.

    `-` (the unset field) becomes None, `(empty)` an empty list; set and vector columns become
    lists. `#path` is kept as the record's `_path`. A header may repeat (concatenated logs).
    """
    separator, set_separator, empty, unset = "\t", ",", "(empty)", "-"
    fields: list[str] = []
    containers: set[str] = set()
    path = ""
    for number, raw in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#separator "):
                separator = line[len("#separator ") :].encode().decode("unicode_escape")
                continue
            key, _, value = line[1:].partition(separator)
            if key == "set_separator":
                set_separator = value
            elif key == "empty_field":
                empty = value
            elif key == "unset_field":
                unset = value
            elif key == "path":
                path = value
            elif key == "fields":
                fields = value.split(separator)
            elif key == "types":
                containers = {
                    name
                    for name, kind in zip(fields, value.split(separator), strict=False)
                    if kind.startswith(("set[", "vector["))
                }
            continue
        values = line.split(separator)
        if not fields or len(values) != len(fields):
            report.skip(f"{where}:{number}", f"{len(values)} values for {len(fields)} fields")
            continue
        record: Record = {"_path": path}
        for name, value in zip(fields, values, strict=True):
            if value == unset:
                record[name] = None
            elif name in containers:
                record[name] = [] if value == empty else value.split(set_separator)
            else:
                record[name] = value
        yield f"{where}:{number}", record


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
