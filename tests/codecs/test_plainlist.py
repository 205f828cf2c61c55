"""Plain value lists: golden file, real ipsum data, comments, per-line failures, format sniffing."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from pathlib import Path

import pytest

from iocd.codecs.plainlist import MAX_LINE_BYTES, read_plain_list, sniff_format
from iocd.codecs.rows import CsvRow, ParsedItem, RowFailure
from iocd.domain.indicator import format_datetime
from iocd.domain.types import Action, IndicatorType
from iocd.errors import InvalidInput

GOLDEN = Path(__file__).parent / "golden"
IPSUM_LEVEL3 = Path("/work/shared/data/ipsum/level3.txt")


def to_json(item: ParsedItem) -> dict[str, object]:
    """A parsed item as the plain data of list.expected.json (same shape as the CSV goldens)."""
    if isinstance(item, RowFailure):
        return {"line": item.line, "reason": item.reason, "raw": item.raw}

    def plain(value: object) -> object:
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, datetime):
            return format_datetime(value)
        return list(value) if isinstance(value, tuple) else value

    fields = {f.name: plain(getattr(item.fields, f.name)) for f in dataclasses.fields(item.fields)}
    return {"line": item.line, "fields": fields}


def read(data: bytes, **options: object) -> list[ParsedItem]:
    settings: dict[str, object] = {
        "indicator_type": None,
        "action": "Block",
        "title": "List",
        "description": "Imported list",
    }
    settings.update(options)
    return list(read_plain_list(io.BytesIO(data), **settings))  # type: ignore[arg-type]


def failures(items: Iterable[ParsedItem]) -> list[tuple[int, str]]:
    return [(i.line, i.reason) for i in items if isinstance(i, RowFailure)]


def values(items: Iterable[ParsedItem]) -> list[tuple[int, str]]:
    return [(i.line, i.fields.value) for i in items if isinstance(i, CsvRow)]


def test_golden_list() -> None:
    expected = json.loads((GOLDEN / "list.expected.json").read_text(encoding="utf-8"))
    with (GOLDEN / "list.txt").open("rb") as stream:
        items = read_plain_list(
            stream,
            indicator_type=None,
            action="Block",
            title="Pasted list",
            description="Values pasted by an analyst",
            severity="Medium",
            expiration_time="2031-01-01T00:00:00Z",
            generate_alert=True,
            rbac_group_names=["SOC lab"],
        )
        assert [to_json(item) for item in items] == expected


@pytest.mark.skipif(not IPSUM_LEVEL3.exists(), reason="shared ipsum data not present")
def test_ipsum_level3_parses_without_failures() -> None:
    with IPSUM_LEVEL3.open("rb") as stream:
        items = list(
            read_plain_list(
                stream,
                indicator_type=None,
                action=Action.BLOCK,
                title="ipsum level 3",
                description="IPs on at least 3 blocklists",
            )
        )
    assert failures(items) == []
    assert len(items) == 14_217
    assert {item.fields.indicator_type for item in items if isinstance(item, CsvRow)} == {
        IndicatorType.IP_ADDRESS
    }


def test_comments_blank_lines_and_fragments() -> None:
    data = (
        b"\xef\xbb\xbf# header comment\n"
        b"\n"
        b"   \t\n"
        b"198.51.100.1\t# why: scanner\n"
        b"https://bad.example/page#part\n"
        b"  # indented comment\n"
        b"bad.example # trailing\r\n"
    )
    assert values(read(data)) == [
        (4, "198.51.100.1"),
        (5, "https://bad.example/page"),
        (7, "bad.example"),
    ]


def test_forced_type_applies_to_every_line() -> None:
    items = read(b"bad.example\n198.51.100.2\n", indicator_type="DomainName")
    assert values(items) == [(1, "bad.example")]
    ((line, reason),) = failures(items)
    assert line == 2
    assert reason.startswith("indicatorValue: '198.51.100.2' looks like an IP address")
    assert "detected type" not in reason


def test_action_is_checked_per_line_against_the_detected_type() -> None:
    items = read(b"44d88612fea8a8f36de82e1278abb02f\n198.51.100.3\n", action="BlockAndRemediate")
    assert values(items) == [(1, "44d88612fea8a8f36de82e1278abb02f")]
    assert failures(items) == [
        (
            2,
            "action: action BlockAndRemediate is not allowed for indicator type IpAddress "
            "(detected type: IpAddress)",
        )
    ]


def test_bad_utf8_and_overlong_lines_fail_alone() -> None:
    data = b"198.51.100.4\nab\xc3(.example\n" + b"a" * (3 * MAX_LINE_BYTES) + b"\n198.51.100.5"
    items = read(data)
    assert values(items) == [(1, "198.51.100.4"), (4, "198.51.100.5")]
    assert failures(items) == [
        (2, "line 2 is not valid UTF-8 (byte 0xC3 at column 3)"),
        (3, f"line is {3 * MAX_LINE_BYTES + 1} bytes long; the limit is {MAX_LINE_BYTES}"),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"action": "Nuke"}, "unknown value 'Nuke'"),
        ({"title": "  "}, "title: is required"),
        ({"action": "Audit", "generate_alert": False}, "must be true for action Audit"),
        ({"indicator_type": "Hash"}, "unknown value 'Hash'"),
        ({"expiration_time": "soon"}, "not an ISO-8601 datetime"),
    ],
)
def test_bad_shared_options_raise_before_any_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_plain_list(
            io.BytesIO(b"198.51.100.6\n"),
            **{  # type: ignore[arg-type]
                "indicator_type": None,
                "action": "Block",
                "title": "t",
                "description": "d",
                **options,
            },
        )


@pytest.mark.parametrize(
    ("first_bytes", "expected"),
    [
        (b"IndicatorType,IndicatorValue,ExpirationTime,Action,Severity,Title", "csv"),
        (b"\xef\xbb\xbfindicatorvalue,indicatortype,action\r\n1.2.3.4,IpAddress,Block", "csv"),
        (b'"IndicatorType","IndicatorValue","Action"\n', "csv"),
        (b"\n\nTitle,IndicatorValue,Act", "csv"),
        (b"198.51.100.7\n198.51.100.8\n", "list"),
        (b"# IndicatorType,IndicatorValue in a comment\nbad.example\n", "list"),
        (b"https://bad.example/a,b,c\n", "list"),
        (b"44d88612fea8a8f36de82e1278abb02f", "list"),
        (b"", "list"),
    ],
)
def test_sniff_format(first_bytes: bytes, expected: str) -> None:
    assert sniff_format(first_bytes) == expected
