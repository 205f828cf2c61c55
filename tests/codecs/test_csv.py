"""The MDE CSV codec: golden files, failure isolation, round trip, template, bounded memory.

Golden files live in golden/ and are checked by hand; a test never rewrites them.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import tracemalloc
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.codecs.csv import (
    COLUMNS,
    MAX_CELL_CHARS,
    _records,
    read_csv,
    template_rows,
    write_csv,
    write_template,
)
from iocd.codecs.rows import CsvRow, ParsedItem, RowFailure
from iocd.domain.indicator import Indicator, IndicatorFields, format_datetime
from iocd.domain.types import Action, IndicatorState, IndicatorType
from iocd.errors import InvalidInput

GOLDEN = Path(__file__).parent / "golden"
HEADER = ",".join(COLUMNS)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def to_json(item: ParsedItem) -> dict[str, object]:
    """A parsed item as the plain data stored in the *.expected.json golden files."""
    if isinstance(item, RowFailure):
        return {"line": item.line, "reason": item.reason, "raw": item.raw}

    def plain(value: object) -> object:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, datetime):
            return format_datetime(value)
        if isinstance(value, tuple):
            return list(value)
        return value

    fields = {f.name: plain(getattr(item.fields, f.name)) for f in dataclasses.fields(item.fields)}
    return {"line": item.line, "fields": fields}


def read_bytes(data: bytes) -> list[ParsedItem]:
    return list(read_csv(io.BytesIO(data)))


def failures(items: Iterable[ParsedItem]) -> list[tuple[int, str]]:
    return [(i.line, i.reason) for i in items if isinstance(i, RowFailure)]


def good(items: Iterable[ParsedItem]) -> list[CsvRow]:
    return [i for i in items if isinstance(i, CsvRow)]


def csv_bytes(*rows: str, newline: str = "\r\n") -> bytes:
    return (newline.join((HEADER, *rows)) + newline).encode()


def stored(fields: IndicatorFields, number: int) -> Indicator:
    return Indicator(
        id=number,
        fields=fields,
        state=IndicatorState.ACTIVE,
        created_by="analyst@example.com",
        created_by_display_name="Analyst",
        created_by_source="Import",
        source_type="User",
        created_at=T0,
        last_updated_at=T0,
        last_updated_by="analyst@example.com",
        sequence=number,
    )


class GeneratedStream(io.RawIOBase):
    """A read-only binary file whose bytes come from a generator, never all in memory."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


# --- golden files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mde_sample", "mixed"])
def test_golden_files_parse_as_expected(name: str) -> None:
    expected = json.loads((GOLDEN / f"{name}.expected.json").read_text(encoding="utf-8"))
    with (GOLDEN / f"{name}.csv").open("rb") as stream:
        assert [to_json(item) for item in read_csv(stream)] == expected


def test_mixed_file_reports_every_bad_row_and_keeps_every_good_one() -> None:
    items = read_bytes((GOLDEN / "mixed.csv").read_bytes())
    assert [row.line for row in good(items)] == [2, 8, 10, 20]
    assert [line for line, _ in failures(items)] == [3, 5, 6, 7, 9, 11, 12, 13, 14, 15, 17, 19, 21]
    reasons = dict(failures(items))
    assert reasons[3].startswith("Action: unknown value 'Nuke'")
    assert "has host bits set; the block is 198.51.100.0/24" in reasons[5]
    assert reasons[6] == "IndicatorValue: 'https:///path' has no host"
    assert reasons[7] == "line 7 is not valid UTF-8 (byte 0xFF at column 5)"
    assert "'xn--zz' is not valid punycode" in reasons[9]
    assert reasons[11] == "GenerateAlert: 'maybe' is not true or false"
    assert reasons[12] == "Title: is required"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
def test_bom_and_line_ends_do_not_change_the_result(bom: bytes, newline: bytes) -> None:
    original = (GOLDEN / "mde_sample.csv").read_bytes()
    assert original.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in original
    variant = bom + original.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", newline)
    expected = json.loads((GOLDEN / "mde_sample.expected.json").read_text(encoding="utf-8"))
    assert [to_json(item) for item in read_bytes(variant)] == expected


def test_no_trailing_newline_and_blank_lines() -> None:
    data = b"\n" + csv_bytes(
        "", "   ", "IpAddress,198.51.100.1,,Block,,t,d,,,,,", "", newline="\n"
    ).rstrip(b"\n")
    items = read_bytes(data)
    assert [(row.line, row.fields.value) for row in good(items)] == [(5, "198.51.100.1")]
    assert failures(items) == []


# --- header --------------------------------------------------------------------------------------


def test_header_is_case_insensitive_in_any_order_with_extra_columns() -> None:
    data = (
        b"  action ,Comment,INDICATORVALUE,indicatortype,TITLE,description\n"
        b"block,ignored,https://bad.example/x,url,Title,Desc\n"
    )
    (row,) = read_bytes(data)
    assert isinstance(row, CsvRow)
    assert row.fields.indicator_type is IndicatorType.URL
    assert row.fields.value == "https://bad.example/x"
    assert row.fields.action is Action.BLOCK


def test_missing_header_raises_once_before_any_row() -> None:
    data = b"FileSha256,275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f,,Block\n"
    with pytest.raises(InvalidInput, match="no header") as caught:
        read_csv(io.BytesIO(data))
    assert caught.value.field == "header"


def test_header_lacking_required_columns_names_them() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_csv(io.BytesIO(b"IndicatorValue,Title,Description\n1.2.3.4,t,d\n"))
    assert "lacks the column(s) IndicatorType, Action" in caught.value.reason


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\n"])
def test_empty_file_raises(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        read_csv(io.BytesIO(data))


def test_duplicate_header_column_raises() -> None:
    with pytest.raises(InvalidInput, match="Action appears more than once"):
        read_csv(io.BytesIO(b"IndicatorType,IndicatorValue,Action,action\n"))


# --- rows ----------------------------------------------------------------------------------------


def test_quoted_commas_newlines_and_quotes() -> None:
    data = csv_bytes(
        'FileMd5,44d88612fea8a8f36de82e1278abb02f,,Block,,"a, b","x\r\n""y""\r\nz",,'
        '"G1, G2",,"T1059, T1071.001",',
        "IpAddress,198.51.100.2,,Block,,after,d,,,,,",
    )
    first, second = read_bytes(data)
    assert isinstance(first, CsvRow)
    assert isinstance(second, CsvRow)
    assert first.fields.title == "a, b"
    assert first.fields.description == 'x\n"y"\nz'
    assert first.fields.rbac_group_names == ("G1", "G2")
    assert first.fields.mitre_techniques == ("T1059", "T1071.001")
    assert (first.line, second.line) == (2, 5)


def test_quote_inside_an_unquoted_cell_is_literal_and_ends_with_its_line() -> None:
    data = csv_bytes(
        'IpAddress,198.51.100.3,,Block,,A 5" screen,d,,,,,',
        "IpAddress,198.51.100.4,,Block,,next,d,,,,,",
    )
    items = read_bytes(data)
    assert [(r.line, r.fields.title) for r in good(items)] == [(2, 'A 5" screen'), (3, "next")]


def test_empty_cells_mean_not_given() -> None:
    (row,) = read_bytes(csv_bytes("IpAddress,198.51.100.5,,Block,,t,d,,,,,"))
    assert isinstance(row, CsvRow)
    fields = row.fields
    assert fields.expiration_time is None
    assert fields.recommended_actions is None
    assert fields.severity.value == "Informational"
    assert fields.generate_alert is False
    assert fields.rbac_group_names == ()
    assert fields.mitre_techniques == ()


@pytest.mark.parametrize(("cell", "expected"), [("TRUE", True), ("False", False), ("tRUe", True)])
def test_generate_alert_in_any_case(cell: str, expected: bool) -> None:
    (row,) = read_bytes(csv_bytes(f"IpAddress,198.51.100.6,,Block,,t,d,,,,,{cell}"))
    assert isinstance(row, CsvRow)
    assert row.fields.generate_alert is expected


@pytest.mark.parametrize(
    ("legacy", "action"), [("Alert", Action.AUDIT), ("AlertAndBlock", Action.BLOCK_AND_REMEDIATE)]
)
def test_legacy_actions(legacy: str, action: Action) -> None:
    (row,) = read_bytes(csv_bytes(f"FileMd5,44d88612fea8a8f36de82e1278abb02f,,{legacy},,t,d,,,,,"))
    assert isinstance(row, CsvRow)
    assert row.fields.action is action


def test_learnt_enum_spellings_still_check_action_per_type() -> None:
    items = read_bytes(
        csv_bytes(
            "FileMd5,44d88612fea8a8f36de82e1278abb02f,,BlockAndRemediate,,t,d,,,,,",
            "IpAddress,198.51.100.7,,BlockAndRemediate,,t,d,,,,,",
        )
    )
    assert len(good(items)) == 1
    assert failures(items) == [
        (3, "Action: action BlockAndRemediate is not allowed for indicator type IpAddress")
    ]


def test_invalid_utf8_inside_a_multiline_record_names_the_physical_line() -> None:
    data = csv_bytes(
        'IpAddress,198.51.100.8,,Block,,t,"first\nsé@cond",,,,,',
        "IpAddress,198.51.100.9,,Block,,t,d,,,,,",
    ).replace(b"@", b"\xff")
    items = read_bytes(data)
    assert failures(items) == [(2, "line 3 is not valid UTF-8 (byte 0xFF at column 3)")]
    assert [row.line for row in good(items)] == [4]


def test_huge_cell_fails_alone_naming_the_column() -> None:
    huge = "x" * (MAX_CELL_CHARS + 10)
    items = read_bytes(
        csv_bytes(
            f"IpAddress,198.51.100.10,,Block,,t,{huge},,,,,",
            "IpAddress,198.51.100.11,,Block,,t,d,,,,,",
        )
    )
    assert failures(items) == [
        (2, f"Description: cell is {MAX_CELL_CHARS + 10} characters long; the limit is 65536")
    ]
    assert [row.line for row in good(items)] == [3]
    assert isinstance(items[0], RowFailure)
    assert len(items[0].raw) <= 120


@pytest.mark.parametrize("quoted", [False, True])
def test_huge_row_is_skipped_unread_and_reading_goes_on(quoted: bool) -> None:
    cell = ("y" * 1000 + "\n") * 3000 if quoted else "y" * 3_000_000
    cell = f'"{cell}"' if quoted else cell
    items = read_bytes(
        csv_bytes(
            f"IpAddress,198.51.100.12,,Block,,t,{cell},,,,,",
            "IpAddress,198.51.100.13,,Block,,t,d,,,,,",
        )
    )
    ((line, reason),) = failures(items)
    assert line == 2
    assert "the limit is 1048576 bytes for a row" in reason
    assert [row.line for row in good(items)] == [3003 if quoted else 3]


def test_unterminated_quote_at_end_of_file() -> None:
    items = read_bytes(csv_bytes('IpAddress,198.51.100.14,,Block,,"t,d,,,,,'))
    assert failures(items) == [
        (2, "a quoted cell opened on this line is never closed (end of file reached)")
    ]


# --- writing, round trip, template ---------------------------------------------------------------


def _sample_fields() -> list[IndicatorFields]:
    with (GOLDEN / "mde_sample.csv").open("rb") as stream:
        return [row.fields for row in good(read_csv(stream))]


def test_export_matches_golden_file() -> None:
    out = io.StringIO(newline="")
    count = write_csv((stored(f, n) for n, f in enumerate(_sample_fields(), 1)), out)
    expected = (GOLDEN / "export.expected.csv").read_bytes().decode("utf-8")
    assert count == 11
    assert out.getvalue() == expected
    assert out.getvalue().count("\r\n") == 12


def test_export_imports_back_unchanged() -> None:
    originals = _sample_fields()
    out = io.StringIO(newline="")
    write_csv((stored(f, n) for n, f in enumerate(originals, 1)), out)
    again = good(read_bytes(out.getvalue().encode()))
    assert len(again) == len(originals)
    for before, after in zip(originals, again, strict=True):
        assert after.fields.differs_from(before) == []
        assert after.fields == dataclasses.replace(before, raw_value=before.value)


def test_extra_columns_round_trip() -> None:
    fields = dataclasses.replace(
        _sample_fields()[0],
        application="Contoso EDR",
        educate_url="https://intranet.example/why-blocked",
        external_id="feed-42",
    )
    out = io.StringIO(newline="")
    write_csv([stored(fields, 1)], out, extra_columns=True)
    (row,) = read_bytes(out.getvalue().encode())
    assert isinstance(row, CsvRow)
    assert row.fields.differs_from(fields) == []


def test_template_has_one_row_per_type_and_imports_cleanly() -> None:
    rows = template_rows()
    assert [row["IndicatorType"] for row in rows] == [
        t.value
        for t in (
            IndicatorType.FILE_SHA256,
            IndicatorType.FILE_SHA1,
            IndicatorType.FILE_MD5,
            IndicatorType.CERTIFICATE_THUMBPRINT,
            IndicatorType.IP_ADDRESS,
            IndicatorType.DOMAIN_NAME,
            IndicatorType.URL,
        )
    ]
    assert all(list(row) == list(COLUMNS) for row in rows)
    out = io.StringIO(newline="")
    assert write_template(out) == 7
    assert out.getvalue() == (GOLDEN / "template.expected.csv").read_bytes().decode("utf-8")
    items = read_bytes(out.getvalue().encode())
    assert failures(items) == []
    assert {row.fields.indicator_type for row in good(items)} == set(IndicatorType)


# --- streaming -----------------------------------------------------------------------------------

ROWS = 200_000


def _generated_csv(rows: int) -> Iterator[bytes]:
    """A header and `rows` valid rows, made on demand; every row takes the quoted-cell path."""
    yield (HEADER + "\r\n").encode()
    for i in range(rows):
        address = f"198.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        yield f'IpAddress,{address},,Block,,Row {i},"Generated, row {i}",,,,,true\r\n'.encode()


@pytest.mark.slow
def test_200k_rows_stream_in_bounded_memory() -> None:
    stream = io.BufferedReader(GeneratedStream(_generated_csv(ROWS)))
    count = 0
    tracemalloc.start()
    try:
        for item in read_csv(stream):
            assert isinstance(item, CsvRow)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == ROWS
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_bare_carriage_return_is_a_row_failure() -> None:
    items = read_bytes(csv_bytes("IpAddress,198.51.100.15,,Block,,t,d\rx,,,,,", newline="\n"))
    assert failures(items) == [
        (2, "not valid CSV: a bare carriage return (CR) breaks the row; use CRLF or LF line ends")
    ]


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(st.sampled_from(["a", "é", ",", '"', "\n", "\r\n", " "]), max_size=40).map(
        "".join
    ),
    chunk=st.sampled_from([1, 3, 64 * 1024]),
)
def test_record_framing_agrees_with_the_csv_module(text: str, chunk: int) -> None:
    """Whatever the quoting and however reads split the lines, rows come out as csv reads them."""
    try:
        expected = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return
    with patch("iocd.codecs.csv.READ_CHUNK", chunk):
        records = list(_records(io.BytesIO(text.encode())))
    if any(isinstance(record, RowFailure) for record in records):
        return  # a quote left open at end of file: csv guesses, we report it
    got = [next(csv.reader((record[1],))) for record in records if isinstance(record, tuple)]

    def meaningful(rows: list[list[str]]) -> list[list[str]]:
        return [[c.replace("\r\n", "\n") for c in r] for r in rows if "".join(r).strip()]

    assert meaningful(got) == meaningful(expected)
