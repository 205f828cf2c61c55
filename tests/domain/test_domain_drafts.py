"""build_fields: loosely typed input (wire strings, CSV cells) turned into IndicatorFields once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.domain.drafts import build_fields
from iocd.domain.scope import check_group_names, scope_key
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.errors import InvalidInput, InvalidValue


def build(**changes: Any) -> Any:
    given_fields: dict[str, Any] = {
        "indicator_type": "DomainName",
        "value": "Example.COM.",
        "action": "Block",
        "title": "Bad domain",
        "description": "Seen in phishing",
    }
    return build_fields(**{**given_fields, **changes})


def refused(**changes: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        build(**changes)
    return info.value


def test_a_minimal_draft() -> None:
    fields = build()
    assert fields.indicator_type is IndicatorType.DOMAIN_NAME
    assert fields.value == "example.com"
    assert fields.raw_value == "Example.COM."
    assert fields.action is Action.BLOCK
    assert fields.severity is Severity.INFORMATIONAL
    assert fields.generate_alert is False
    assert fields.expiration_time is None
    assert fields.mitre_techniques == ()
    assert fields.rbac_group_names == ()
    assert fields.identity == (IndicatorType.DOMAIN_NAME, "example.com", "")


def test_every_field_given() -> None:
    fields = build(
        indicator_type="url",
        value="HTTP://Example.COM:80/a/./b/../c?q=1#frag",
        action="alert",
        severity="high",
        generate_alert=True,
        expiration_time="2030-01-31T10:20:30.1234567+02:00",
        recommended_actions=" Isolate ",
        application="Edge",
        educate_url="https://intranet.example/why",
        external_id="feed-42",
        category="Execution",
        mitre_techniques=["t1059.003", "T1566"],
        rbac_group_names=["Servers", " Laptops ", "Servers", ""],
    )
    assert fields.value == "http://example.com/a/c?q=1"
    assert fields.action is Action.AUDIT
    assert fields.severity is Severity.HIGH
    assert fields.generate_alert is True
    assert fields.expiration_time == datetime(2030, 1, 31, 8, 20, 30, 123456, tzinfo=UTC)
    assert fields.recommended_actions == "Isolate"
    assert fields.external_id == "feed-42"
    assert fields.category == "Execution"
    assert fields.mitre_techniques == ("T1059.003", "T1566")
    assert fields.rbac_group_names == ("Laptops", "Servers")


def test_an_action_not_allowed_for_the_type_is_refused_before_the_value() -> None:
    error = refused(action="BlockAndRemediate", value="not a domain at all")
    assert error.field == "action"
    assert "BlockAndRemediate" in error.reason
    assert "DomainName" in error.reason


def test_a_bad_value_is_an_invalid_value() -> None:
    error = refused(value="http://example.com/")
    assert isinstance(error, InvalidValue)
    assert error.field == "indicatorValue"
    assert error.code == "InvalidDomainName"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": None}, "title"),
        ({"title": "   "}, "title"),
        ({"description": None}, "description"),
        ({"description": ""}, "description"),
        ({"value": ""}, "indicatorValue"),
        ({"value": " \t"}, "indicatorValue"),
        ({"action": ""}, "action"),
        ({"indicator_type": " "}, "indicatorType"),
    ],
)
def test_required_fields(change: dict[str, Any], field: str) -> None:
    error = refused(**change)
    assert error.code == "MissingRequiredParameter"
    assert error.field == field
    assert "required" in error.reason


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"indicator_type": "FileSha512"}, "indicatorType"),
        ({"action": "Quarantine"}, "action"),
        ({"severity": "Critical"}, "severity"),
        ({"expiration_time": "next week"}, "expirationTime"),
        ({"category": "execution"}, "category"),
        ({"mitre_techniques": ["T12345"]}, "mitreTechniques"),
        ({"rbac_group_names": ["a|b"]}, "rbacGroupNames"),
        ({"title": "x" * 1025}, "title"),
        ({"value": "a" * 4097 + ".com"}, "indicatorValue"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], field: str) -> None:
    error = refused(**change)
    assert error.field == field
    assert error.code == "InvalidInput"


@pytest.mark.parametrize(
    ("action", "requested", "expected"),
    [
        ("Audit", None, True),
        ("Alert", None, True),
        ("Audit", True, True),
        ("Allowed", None, False),
        ("Allowed", False, False),
        ("Block", None, False),
        ("Warn", True, True),
    ],
)
def test_generate_alert_is_resolved(action: str, requested: bool | None, expected: bool) -> None:
    assert build(action=action, generate_alert=requested).generate_alert is expected


@pytest.mark.parametrize(("action", "requested"), [("Audit", False)])
def test_generate_alert_contradiction_is_refused(action: str, requested: bool) -> None:
    assert refused(action=action, generate_alert=requested).field == "generateAlert"


@pytest.mark.parametrize("empty", ["", "  ", None])
def test_empty_severity_and_expiry_mean_not_given(empty: str | None) -> None:
    fields = build(severity=empty, expiration_time=empty)
    assert fields.severity is Severity.INFORMATIONAL
    assert fields.expiration_time is None


def test_legacy_alert_and_block_on_a_file() -> None:
    fields = build(
        indicator_type="FileMd5", value="D41D8CD98F00B204E9800998ECF8427E", action="AlertAndBlock"
    )
    assert fields.action is Action.BLOCK_AND_REMEDIATE
    assert fields.value == "d41d8cd98f00b204e9800998ecf8427e"


def test_typed_input_is_taken_as_is() -> None:
    expiry = datetime(2030, 1, 1, tzinfo=UTC)
    fields = build(
        indicator_type=IndicatorType.FILE_SHA256,
        value="E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        action=Action.AUDIT,
        severity=Severity.LOW,
        expiration_time=expiry,
    )
    assert fields.value == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert fields.generate_alert is True
    assert fields.expiration_time == expiry


# --- device groups ---------------------------------------------------------------------------

GROUP_NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="|,"), min_size=1, max_size=20
)


@settings(max_examples=80, deadline=None)
@given(st.lists(GROUP_NAMES, max_size=8))
def test_device_groups_are_trimmed_deduplicated_and_sorted(names: list[str]) -> None:
    fields = build(rbac_group_names=names)
    expected = tuple(sorted({n.strip() for n in names if n.strip()}))
    assert fields.rbac_group_names == expected
    assert fields.identity[2] == scope_key(expected)
    assert build(rbac_group_names=list(reversed(names))).identity == fields.identity


@settings(max_examples=40, deadline=None)
@given(GROUP_NAMES, GROUP_NAMES)
def test_a_group_name_with_the_separator_is_refused(left: str, right: str) -> None:
    name = f"{left}|{right}"
    with pytest.raises(InvalidInput) as info:
        check_group_names(["ok", name])
    assert info.value.field == "rbacGroupNames"
    assert "'|'" in info.value.reason


def test_a_long_group_name_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        check_group_names(["x" * 129])
    assert "longer than 128" in info.value.reason


def test_scope_key() -> None:
    assert scope_key(()) == ""
    assert scope_key(("a",)) == "|a|"
    assert scope_key(("a", "b")) == "|a|b|"
