"""Native JSON lines -> Arrow text columns: DuckDB's JSON reader for large pieces, pyarrow's
for small ones.

Why DuckDB: the parse is most of what `iocd scan` spends on JSON lines. On 1,000,000 native
lines (236 MB, two shared cores) DuckDB's `json_transform` takes about 1.1 CPU-s where pyarrow's
JSON reader takes 3.1 to 3.5 (benchmarks/scan.py; docs/telemetry.md). But each DuckDB query
costs about 3 ms however small, pyarrow's about 0.4: pieces under SMALL_PIECE (an upload of a
few events, a small file) go to pyarrow, which refuses a value of another JSON type (None: the
caller reads the piece record by record, where such values are read leniently too).

A piece's lines go to DuckDB as one Arrow string column over the piece's own bytes (no copy),
and `json_transform` reads each object into the fields of the schema it is given (text, bool
or int32 columns). A value of another JSON type is cast as DuckDB casts it: a number where
text is expected is read as its text, `"443"` as port 443, `"true"` or `1` as true; a value
that does not cast (`"yes"` as a port, a port beyond int32) is null. Unknown fields are
ignored, blank lines skipped. A piece holding a line that is not a JSON object, or not JSON at
all, gives None: the caller reads that piece record by record and reports each bad line.

One in-memory DuckDB database serves the process (opened on first use, about 25 ms; it never
loads or downloads extensions: JSON is built into the wheel); each parse takes its own cursor,
so threads parse concurrently, and DuckDB releases the GIL while it works. DuckDB does not
survive a fork (a child forked after the first parse hangs in DuckDB when it parses): iocd
forks only to read indicator files (codecs/ahead.py), which never reach this module.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

if TYPE_CHECKING:
    import duckdb

__all__ = ["SMALL_PIECE", "duckdb_json_lines", "parse_json_lines"]

SMALL_PIECE = 1 << 20
"""Pieces of fewer bytes are parsed by pyarrow. Measured here on native lines: 1 MiB (4,439
lines) 10.5 ms by pyarrow, 9.0 by DuckDB; 10 lines 0.4 ms by pyarrow, 3.5 by DuckDB."""

_DUCK_TYPES = {pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN", pa.int32(): "INTEGER"}
_BLANK = b" \t\r\n"
_OPEN_BRACE = ord("{")
_NEWLINE = ord("\n")
_PARALLEL_LINES = 16_384
"""Pieces of more lines are handed over in two batches, which DuckDB parses on two threads."""

_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
"""No extension is ever loaded or fetched: JSON is built into the wheel."""
_database: duckdb.DuckDBPyConnection | None = None
_opening = threading.Lock()


def parse_json_lines(piece: bytes | memoryview, schema: pa.Schema) -> pa.Table | None:
    """The objects of `piece` (whole JSON lines) as a table of `schema` (string, bool and
    int32 fields, every one nullable: a field an object lacks is null), one row per non-blank
    line in order; None when a line is not a JSON object or not JSON. (pyarrow, which reads
    small pieces, also gives None for a value of another type than its field's, and reads a
    `null` line as a row of nulls.)"""
    if len(piece) >= SMALL_PIECE:
        return duckdb_json_lines(piece, schema)
    options = pj.ParseOptions(explicit_schema=_nullable(schema), unexpected_field_behavior="ignore")
    try:
        return pj.read_json(pa.BufferReader(piece), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None


def duckdb_json_lines(piece: bytes | memoryview, schema: pa.Schema) -> pa.Table | None:
    """`parse_json_lines` by DuckDB, whatever the size of the piece."""
    schema = _nullable(schema)
    lines = _object_lines(piece)
    if lines is None:
        return None
    if not len(lines):
        return schema.empty_table()
    half = len(lines) // 2 if len(lines) >= _PARALLEL_LINES else len(lines)
    table = pa.Table.from_batches(
        [
            pa.record_batch([part], names=["line"])
            for part in (lines.slice(0, half), lines.slice(half))
            if len(part)
        ]
    )
    shape = json.dumps({f.name: _DUCK_TYPES[f.type] for f in schema})
    cursor = _cursor()
    try:
        cursor.register("lines", table)
        parsed = cursor.sql(
            "SELECT unnest(json_transform(line, $$" + shape + "$$)) FROM lines"
        ).to_arrow_table()
    except (_duckdb().Error, UnicodeDecodeError):  # malformed JSON, text that is not UTF-8
        return None
    finally:
        cursor.close()
    return parsed.cast(schema) if parsed.schema != schema else parsed


def _nullable(schema: pa.Schema) -> pa.Schema:
    return pa.schema([field.with_nullable(True) for field in schema])


def _object_lines(piece: bytes | memoryview) -> pa.LargeStringArray | None:
    """Each non-blank line of `piece` (its newline kept, JSON whitespace) as a string over the
    piece's own bytes; None when a line does not start as a JSON object. (Each line's first
    byte is checked at once; only the rare others are looked at.)"""
    data = np.frombuffer(piece, dtype=np.uint8)
    if not len(data):
        return pa.array([], pa.large_string())
    ends = np.flatnonzero(data == _NEWLINE) + 1
    if not len(ends) or ends[-1] != len(data):  # the last line has no newline
        ends = np.append(ends, len(data))
    offsets = np.zeros(len(ends) + 1, dtype=np.int64)
    offsets[1:] = ends
    lines = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(piece))
    other = np.flatnonzero(data[offsets[:-1]] != _OPEN_BRACE)
    blank = []
    for row in other.tolist():
        text = data[offsets[row] : offsets[row + 1]].tobytes().strip(_BLANK)
        if text:
            if not text.startswith(b"{"):
                return None
        else:
            blank.append(row)
    if not blank:
        return lines
    keep = np.ones(len(lines), dtype=np.bool_)
    keep[blank] = False
    return lines.filter(pa.array(keep))


def _duckdb() -> Any:
    """The duckdb module, imported on first use (about 0.1 s): by the thread that reads, and
    not at all by a command that parses no large piece."""
    import duckdb

    return duckdb


def _cursor() -> duckdb.DuckDBPyConnection:
    """A connection of its own to the process's database (opened the first time)."""
    global _database
    with _opening:
        if _database is None:
            _database = _duckdb().connect(config=dict(_CONFIG))
        return _database.cursor()
