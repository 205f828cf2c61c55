"""What a row-oriented codec yields: a parsed row, or a failure that names its line.

Both are immutable. Line numbers are physical line numbers in the source file, counted from 1
(a CSV header is line 1); a record that spans several lines carries the line where it starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from iocd.domain.indicator import IndicatorFields

ECHO_LIMIT = 120
"""Characters of the offending row echoed back in a failure report."""

UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One valid row: its first physical line and its validated, canonical fields."""

    line: int
    fields: IndicatorFields


@dataclass(frozen=True, slots=True)
class RowFailure:
    """One row that could not be read; `reason` is for people, `raw` a short echo of the row."""

    line: int
    reason: str
    raw: str


ParsedItem = CsvRow | RowFailure


def echo(text: str) -> str:
    """A short, one-line rendering of a row for reports (line breaks shown as ⏎, long rows cut)."""
    flat = text.rstrip("\r\n").replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎")
    return flat if len(flat) <= ECHO_LIMIT else flat[: ECHO_LIMIT - 1] + "…"


def echo_bytes(data: bytes) -> str:
    """`echo` of bytes that may not be valid UTF-8 (bad bytes shown as \\xNN escapes)."""
    return echo(data[: ECHO_LIMIT * 4].decode("utf-8", "backslashreplace"))


def utf8_failure(first_line: int, data: bytes, error: UnicodeDecodeError) -> RowFailure:
    """The failure for a record starting at `first_line` whose bytes `data` fail to decode.

    Names the physical line holding the first bad byte, the byte, and its 1-based character column.
    """
    offset = error.start
    line = first_line + data.count(b"\n", 0, offset)
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", "replace")) + 1
    reason = f"line {line} is not valid UTF-8 (byte 0x{data[offset]:02X} at column {column})"
    return RowFailure(first_line, reason, echo_bytes(data))


def as_parsed_rows(items: Iterable[ParsedItem]) -> Iterator[tuple[int, IndicatorFields | str]]:
    """Adapt codec output to `services.imports.ParsedRow`: (line, fields or failure reason)."""
    for item in items:
        if isinstance(item, CsvRow):
            yield item.line, item.fields
        else:
            yield item.line, item.reason
