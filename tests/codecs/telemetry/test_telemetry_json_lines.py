"""Native JSON lines parsed by DuckDB (json_lines.py): for well-typed objects it reads what
pyarrow's JSON reader reads (the reader it replaced for large pieces, still the one for small
pieces, and the oracle here); values of another JSON type are cast, not refused; a line that is
not an object or not JSON gives None, and the reader then reads that piece record by record."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.codecs.telemetry import read_telemetry
from iocd.codecs.telemetry.common import ReadReport
from iocd.codecs.telemetry.json_lines import SMALL_PIECE, duckdb_json_lines, parse_json_lines
from iocd.codecs.telemetry.native import TEXT_SCHEMA
from iocd.matching.columns import batch_to_events

SCHEMA = pa.schema(
    [
        pa.field("time", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("flag", pa.bool_()),
        pa.field("port", pa.int32()),
    ]
)
texts = st.text(max_size=12)  # any text: escapes, quotes, non-ASCII, NUL
values = {
    "time": st.none() | texts,
    "kind": st.none() | texts,
    "flag": st.none() | st.booleans(),
    "port": st.none() | st.integers(-(2**31), 2**31 - 1),
}
objects = st.fixed_dictionaries({}, optional=values) | st.fixed_dictionaries(
    {}, optional={**values, "extra": st.lists(st.integers(), max_size=3) | texts}
)


def _pyarrow(data: bytes) -> pa.Table:
    options = pj.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore")
    return pj.read_json(pa.BufferReader(data), parse_options=options).select(SCHEMA.names)


@settings(max_examples=60, deadline=None)
@given(st.lists(objects, min_size=1, max_size=40), st.sampled_from(["\n", "\r\n"]))
def test_well_typed_objects_read_as_pyarrow_reads_them(
    rows: list[dict[str, Any]], newline: str
) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + newline for r in rows).encode()
    parsed = duckdb_json_lines(data, SCHEMA)
    assert parsed is not None
    assert parsed.to_pylist() == _pyarrow(data).to_pylist()


def test_rows_keep_the_order_of_their_lines_across_the_two_parallel_halves() -> None:
    rows = [{"time": str(n), "port": n} for n in range(50_000)]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    parsed = duckdb_json_lines(memoryview(data), SCHEMA)
    assert parsed is not None
    assert parsed.column("port").to_pylist() == list(range(50_000))
    assert parsed.column("time").to_pylist() == [str(n) for n in range(50_000)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"time": 17, "kind": 2.5}', {"time": "17", "kind": "2.5"}),
        ('{"port": "443"}', {"port": 443}),
        ('{"port": "no"}', {}),
        ('{"port": 99999999999}', {}),
        ('{"flag": "true", "port": 80}', {"flag": True, "port": 80}),
        ('{"flag": 0}', {"flag": False}),
        ('{"kind": {"a": 1}}', {"kind": '{"a":1}'}),
        ('{"kind": null, "time": "t"}', {"time": "t"}),
    ],
)
def test_values_of_another_json_type_are_cast_or_null(line: str, expected: dict[str, Any]) -> None:
    parsed = duckdb_json_lines(line.encode() + b"\n", SCHEMA)
    assert parsed is not None
    assert {k: v for k, v in parsed.to_pylist()[0].items() if v is not None} == expected


@pytest.mark.parametrize(
    "data",
    [
        b'{"time": "a"}\n[1, 2]\n',
        b'{"time": "a"}\n42\n',
        b'{"time": "a"}\nnull\n',
        b'{"time": "a"}\n{"time": \n',
        b'{"time": "a"}\n{not json}\n',
        b'{"time": "\xff"}\n',
        b'\xef\xbb\xbf{"time": "a"}\n',
    ],
)
def test_a_line_that_is_not_a_json_object_gives_none(data: bytes) -> None:
    assert duckdb_json_lines(data, SCHEMA) is None


def test_blank_lines_are_skipped_and_indented_objects_read() -> None:
    data = b'\n  \r\n{"time": "a"}\n\t{"time": "b"}\n\n{"time": "c"}'
    parsed = duckdb_json_lines(data, SCHEMA)
    assert parsed is not None
    assert parsed.column("time").to_pylist() == ["a", "b", "c"]
    for empty in (b"", b"\n\n", memoryview(b" \n")):
        table = duckdb_json_lines(empty, SCHEMA)
        assert table is not None
        assert table.num_rows == 0 and table.schema == SCHEMA


def test_small_pieces_go_to_pyarrow_which_refuses_another_type_and_large_ones_to_duckdb() -> None:
    line = b'{"time": "a", "port": "443"}\n'
    assert parse_json_lines(line, SCHEMA) is None  # read record by record by the caller
    large = line * (SMALL_PIECE // len(line) + 1)
    parsed = parse_json_lines(large, SCHEMA)
    assert parsed is not None
    assert set(parsed.column("port").to_pylist()) == {443}


def test_threads_parse_at_once() -> None:
    data = b"".join(b'{"time": "%d"}\n' % n for n in range(2000))
    results: list[pa.Table | None] = []

    def parse() -> None:
        results.append(duckdb_json_lines(data, SCHEMA))

    threads = [threading.Thread(target=parse) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert all(r is not None and r.num_rows == 2000 for r in results)


def test_a_file_with_a_line_of_another_shape_still_reads_every_event(tmp_path: Path) -> None:
    event = {"time": "2024-05-01T12:00:00Z", "kind": "network", "device_id": "d"}
    path = tmp_path / "e.ndjson"
    path.write_text(
        json.dumps({**event, "remote_port": "443", "device_name": 7})
        + "\n"
        + json.dumps([1])
        + "\n"
        + json.dumps({**event, "remote_ip": "10.0.0.1"})
        + "\n",
        encoding="utf-8",
    )
    report = ReadReport()
    events = [e for b in read_telemetry([path], report=report) for e in batch_to_events(b)]
    assert [(e.remote_port, e.device_name, e.remote_ip) for e in events] == [
        (443, "7", None),
        (None, "", "10.0.0.1"),
    ]
    assert report.skipped == 1
    assert report.samples[0].startswith(f"{path}:2:")


def test_the_native_text_schema_is_one_duckdb_reads() -> None:
    line = json.dumps({f.name: None for f in TEXT_SCHEMA}).encode()
    parsed = duckdb_json_lines(line, TEXT_SCHEMA)
    assert parsed is not None
    assert parsed.schema == pa.schema([f.with_nullable(True) for f in TEXT_SCHEMA])
    assert parsed.to_pylist() == [dict.fromkeys(TEXT_SCHEMA.names)]
