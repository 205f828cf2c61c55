"""Indicator field checks (SPEC section 1): datetimes, techniques, categories, alerts, state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.domain.indicator import (
    Indicator,
    IndicatorFields,
    check_category,
    check_techniques,
    check_text,
    format_datetime,
    parse_datetime,
    resolve_generate_alert,
)
from iocd.domain.types import Action, IndicatorState, IndicatorType
from iocd.errors import InvalidInput

FIELD = "expirationTime"
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30)), timezone.min]
)
# Far enough from year 1 and 9999 that any offset stays inside datetime's range.
INSTANTS = st.datetimes(min_value=datetime(1, 1, 3), max_value=datetime(9999, 12, 29))


# --- parse_datetime --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2030-01-31T00:00:00Z", datetime(2030, 1, 31, tzinfo=UTC)),
        ("2030-01-31T10:20:30z", datetime(2030, 1, 31, 10, 20, 30, tzinfo=UTC)),
        ("2030-01-31t10:20:30Z", datetime(2030, 1, 31, 10, 20, 30, tzinfo=UTC)),
        ("2030-01-31 10:20:30", datetime(2030, 1, 31, 10, 20, 30, tzinfo=UTC)),
        ("2030-01-31T10:20:30.1Z", datetime(2030, 1, 31, 10, 20, 30, 100000, tzinfo=UTC)),
        ("2030-01-31T10:20:30.123456Z", datetime(2030, 1, 31, 10, 20, 30, 123456, tzinfo=UTC)),
        ("2030-01-31T10:20:30.1234567Z", datetime(2030, 1, 31, 10, 20, 30, 123456, tzinfo=UTC)),
        ("2030-01-31T10:20:30+02:00", datetime(2030, 1, 31, 8, 20, 30, tzinfo=UTC)),
        ("2030-01-31T10:20:30+0200", datetime(2030, 1, 31, 8, 20, 30, tzinfo=UTC)),
        ("2030-01-31T10:20:30-05:30", datetime(2030, 1, 31, 15, 50, 30, tzinfo=UTC)),
        ("2030-01-31T10:20:30.5-0000", datetime(2030, 1, 31, 10, 20, 30, 500000, tzinfo=UTC)),
        ("2030-01-31T10:20", datetime(2030, 1, 31, 10, 20, tzinfo=UTC)),
        ("2030-01-31T10:20Z", datetime(2030, 1, 31, 10, 20, tzinfo=UTC)),
        ("2030-01-31", datetime(2030, 1, 31, tzinfo=UTC)),
        ("  2030-01-31T00:00:00Z\n", datetime(2030, 1, 31, tzinfo=UTC)),
        ("2030-01-01T00:30:00+01:00", datetime(2029, 12, 31, 23, 30, tzinfo=UTC)),
    ],
)
def test_parse_datetime_forms(raw: str, expected: datetime) -> None:
    parsed = parse_datetime(FIELD, raw)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "tomorrow",
        "2030-01-31T",
        "2030-01-31T10",
        "2030-13-01T00:00:00Z",
        "2030-02-30",
        "2030-01-31T25:00:00Z",
        "2030-01-31T10:20:30.12345678Z",
        "2030-01-31T10:20:30.Z",
        "2030-01-31T10:20.5Z",
        "2030-01-31T10:20:30+2:00",
        "2030-01-31T10:20:30+24:00",
        "2030-01-31T10:20:30 Z",
        "2030-01-31Z",
        "31/01/2030",
        "٢٠٣٠-01-31T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "1706659200",
    ],
)
def test_parse_datetime_rejects_garbage_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_datetime(FIELD, raw)
    assert info.value.field == FIELD
    assert str(info.value).startswith(f"{FIELD}: ")
    assert repr(raw) in info.value.reason
    assert "datetime" in info.value.reason


@settings(max_examples=200, deadline=None)
@given(INSTANTS, ZONES, st.integers(0, 7), st.sampled_from(["T", " "]), st.data())
def test_parse_datetime_of_any_written_form(
    local: datetime, zone: timezone, digits: int, sep: str, data: st.DataObject
) -> None:
    moment = local.replace(tzinfo=zone)
    offset = zone.utcoffset(None)
    if offset == timedelta(0):
        zone_text = data.draw(st.sampled_from(["Z", "z", "+00:00", "+0000", ""]))
    else:
        sign = "-" if offset < timedelta(0) else "+"
        minutes = abs(offset) // timedelta(minutes=1)
        hours_minutes = f"{minutes // 60:02d}{minutes % 60:02d}"
        colon = data.draw(st.sampled_from(["", ":"]))
        zone_text = f"{sign}{hours_minutes[:2]}{colon}{hours_minutes[2:]}"
    fraction = f"{moment.microsecond:06d}0"[:digits]
    text = moment.strftime("%H:%M:%S") + (f".{fraction}" if digits else "")
    raw = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}{sep}{text}{zone_text}"
    expected = moment.replace(microsecond=int(fraction.ljust(6, "0")[:6] or 0))
    assert parse_datetime(FIELD, raw) == expected


# --- format_datetime -------------------------------------------------------------------------


def test_format_datetime_writes_seven_digits_and_z() -> None:
    moment = datetime(2030, 1, 31, 10, 20, 30, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(moment) == "2030-01-31T08:20:30.1234560Z"
    assert format_datetime(datetime(2030, 1, 31, tzinfo=UTC)) == "2030-01-31T00:00:00.0000000Z"


def test_format_datetime_pads_early_years() -> None:
    assert format_datetime(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.0000000Z"


def test_format_datetime_reads_naive_as_utc() -> None:
    assert format_datetime(datetime(2030, 1, 31, 10)) == "2030-01-31T10:00:00.0000000Z"


@settings(max_examples=200, deadline=None)
@given(INSTANTS, ZONES)
def test_format_then_parse_is_the_same_instant(local: datetime, zone: timezone) -> None:
    moment = local.replace(tzinfo=zone)
    text = format_datetime(moment)
    assert len(text) == len("2030-01-31T00:00:00.0000000Z")
    assert text.endswith("0Z")
    assert parse_datetime(FIELD, text) == moment
    assert format_datetime(parse_datetime(FIELD, text)) == text


@settings(max_examples=50, deadline=None)
@given(INSTANTS)
def test_format_then_parse_of_a_naive_datetime_is_utc(moment: datetime) -> None:
    assert parse_datetime(FIELD, format_datetime(moment)) == moment.replace(tzinfo=UTC)


# --- techniques, categories, text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["T1234"], ("T1234",)),
        (["T1234.001"], ("T1234.001",)),
        (["t1059.003", " T1566 "], ("T1059.003", "T1566")),
        (["T1566", "t1566", ""], ("T1566",)),
        ([], ()),
    ],
)
def test_techniques(raw: list[str], expected: tuple[str, ...]) -> None:
    assert check_techniques(raw) == expected


@pytest.mark.parametrize(
    "bad", ["T123", "T12345", "T1234.01", "T1234.0001", "1234", "TA0001", "T1234-001", "T١٢٣٤"]
)
def test_techniques_reject_bad_ids(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_techniques(["T1000", bad])
    assert info.value.field == "mitreTechniques"
    assert repr(bad) in info.value.reason
    assert "T1234.001" in info.value.reason


@settings(max_examples=50, deadline=None)
@given(st.from_regex(r"[Tt][0-9]{4}(\.[0-9]{3})?", fullmatch=True))
def test_any_technique_id_is_accepted_upper_cased(raw: str) -> None:
    assert check_techniques([raw]) == (raw.upper(),)


@pytest.mark.parametrize("good", ["Execution", "CommandAndControl", "InitialAccess", " Malware "])
def test_category_in_pascal_case(good: str) -> None:
    assert check_category(good) == good.strip()


@pytest.mark.parametrize(
    "bad", ["execution", "Command and control", "Command_Control", "1Execution"]
)
def test_category_not_in_pascal_case(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_category(bad)
    assert info.value.field == "category"
    assert "Pascal-case" in info.value.reason


def test_empty_category_is_not_given() -> None:
    assert check_category(None) is None
    assert check_category("  ") is None


def test_check_text() -> None:
    assert check_text("title", "  hello ") == "hello"
    assert check_text("application", "") is None
    with pytest.raises(InvalidInput) as info:
        check_text("title", " ", required=True)
    assert info.value.code == "MissingRequiredParameter"
    with pytest.raises(InvalidInput) as info:
        check_text("title", "x" * 1025)
    assert "limit is 1024" in info.value.reason


# --- generateAlert ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "requested", "expected"),
    [
        (Action.AUDIT, None, True),
        (Action.AUDIT, True, True),
        (Action.ALLOWED, None, False),
        (Action.ALLOWED, False, False),
        (Action.WARN, None, False),
        (Action.WARN, True, True),
        (Action.BLOCK, False, False),
        (Action.BLOCK, True, True),
        (Action.BLOCK_AND_REMEDIATE, None, False),
        (Action.BLOCK_AND_REMEDIATE, True, True),
    ],
)
def test_generate_alert(action: Action, requested: bool | None, expected: bool) -> None:
    assert resolve_generate_alert(action, requested) is expected


@pytest.mark.parametrize(
    ("action", "requested", "words"),
    [(Action.AUDIT, False, "must be true")],
)
def test_generate_alert_contradictions(action: Action, requested: bool, words: str) -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_generate_alert(action, requested)
    assert info.value.field == "generateAlert"
    assert words in info.value.reason


def test_allowed_never_alerts_even_when_asked() -> None:
    """MDE clients send generateAlert=true for every indicator; Allowed quietly stays silent."""
    assert resolve_generate_alert(Action.ALLOWED, True) is False


# --- IndicatorFields and Indicator -----------------------------------------------------------


def make_fields(**changes: object) -> IndicatorFields:
    base: dict[str, object] = {
        "indicator_type": IndicatorType.DOMAIN_NAME,
        "value": "example.com",
        "action": Action.BLOCK,
        "title": "t",
        "description": "d",
    }
    return IndicatorFields(**{**base, **changes})  # type: ignore[arg-type]


def test_identity_is_type_value_and_scope() -> None:
    fields = make_fields(rbac_group_names=("a", "b"))
    assert fields.identity == (IndicatorType.DOMAIN_NAME, "example.com", "|a|b|")
    assert make_fields().identity == (IndicatorType.DOMAIN_NAME, "example.com", "")
    assert make_fields(action=Action.ALLOWED, title="x").identity == make_fields().identity


def test_differs_from_ignores_the_raw_value() -> None:
    assert make_fields(raw_value="EXAMPLE.COM").differs_from(make_fields()) == []
    assert make_fields(title="x", severity="High").differs_from(make_fields()) == [
        "title",
        "severity",
    ]


def test_state_at_expires_at_the_second_given() -> None:
    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    moment = datetime(2029, 1, 1, tzinfo=UTC)
    indicator = Indicator(
        id=1,
        fields=make_fields(expiration_time=expiry),
        state=IndicatorState.ACTIVE,
        created_by="u",
        created_by_display_name="U",
        created_by_source="Portal",
        source_type="User",
        created_at=moment,
        last_updated_at=moment,
        last_updated_by="u",
        sequence=1,
    )
    assert indicator.is_active(expiry - timedelta(microseconds=1))
    assert indicator.state_at(expiry) is IndicatorState.EXPIRED
    deleted = indicator.with_fields(indicator.fields, state=IndicatorState.DELETED)
    assert deleted.state_at(moment) is IndicatorState.DELETED
    assert indicator.state is IndicatorState.ACTIVE
