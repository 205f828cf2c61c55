"""Enumerations and the table of actions allowed per indicator type (SPEC section 1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.domain.types import (
    ALLOWED_ACTIONS,
    Action,
    IndicatorType,
    Severity,
    check_action_allowed,
    parse_action,
    parse_indicator_type,
    parse_severity,
)
from iocd.errors import InvalidInput

# SPEC section 1, written out: type -> (Allowed, Audit, Warn, Block, BlockAndRemediate).
SPEC_TABLE = {
    "FileSha1": (True, True, True, True, True),
    "FileSha256": (True, True, True, True, True),
    "FileMd5": (True, True, True, True, True),
    "IpAddress": (True, True, True, True, False),
    "DomainName": (True, True, True, True, False),
    "Url": (True, True, True, True, False),
    "CertificateThumbprint": (True, True, False, True, True),
}
ACTION_COLUMNS = ("Allowed", "Audit", "Warn", "Block", "BlockAndRemediate")
PAIRS = [
    (kind, action, allowed)
    for kind, row in SPEC_TABLE.items()
    for action, allowed in zip(ACTION_COLUMNS, row, strict=True)
]


def test_the_table_covers_every_type_and_action() -> None:
    assert len(PAIRS) == 35
    assert set(SPEC_TABLE) == {t.value for t in IndicatorType}
    assert set(ACTION_COLUMNS) == {a.value for a in Action}


def test_allowed_actions_equal_the_spec_table() -> None:
    expected = {
        IndicatorType(kind): frozenset(
            Action(a) for a, ok in zip(ACTION_COLUMNS, row, strict=True) if ok
        )
        for kind, row in SPEC_TABLE.items()
    }
    assert expected == ALLOWED_ACTIONS


@pytest.mark.parametrize(("kind", "action", "allowed"), PAIRS)
def test_check_action_allowed(kind: str, action: str, allowed: bool) -> None:
    if allowed:
        check_action_allowed(IndicatorType(kind), Action(action))
        return
    with pytest.raises(InvalidInput) as info:
        check_action_allowed(IndicatorType(kind), Action(action))
    assert info.value.field == "action"
    assert kind in info.value.reason
    assert action in info.value.reason


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(list(Action)), st.data())
def test_parse_action_is_case_insensitive(action: Action, data: st.DataObject) -> None:
    flags = data.draw(st.lists(st.booleans(), min_size=len(action), max_size=len(action)))
    raw = "".join(c.upper() if up else c.lower() for c, up in zip(action.value, flags, strict=True))
    assert parse_action(f" {raw} ") is action


@pytest.mark.parametrize(
    ("raw", "action"),
    [
        ("Alert", Action.AUDIT),
        ("alert", Action.AUDIT),
        (" ALERT ", Action.AUDIT),
        ("AlertAndBlock", Action.BLOCK_AND_REMEDIATE),
        ("alertandblock", Action.BLOCK_AND_REMEDIATE),
        ("ALERTANDBLOCK", Action.BLOCK_AND_REMEDIATE),
        ("Audit", Action.AUDIT),
        ("BlockAndRemediate", Action.BLOCK_AND_REMEDIATE),
        ("allowed", Action.ALLOWED),
        ("warn", Action.WARN),
        ("BLOCK", Action.BLOCK),
    ],
)
def test_parse_action_maps_legacy_names(raw: str, action: Action) -> None:
    assert parse_action(raw) is action


@pytest.mark.parametrize("raw", ["", "Allow", "Blocked", "AlertAndBlockAndRemediate", "Alert!"])
def test_parse_action_rejects_unknown_names(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_action(raw)
    assert info.value.field == "action"
    assert "unknown value" in info.value.reason
    assert "BlockAndRemediate" in info.value.reason


@pytest.mark.parametrize("kind", list(IndicatorType))
def test_parse_indicator_type(kind: IndicatorType) -> None:
    assert parse_indicator_type(kind.value.upper()) is kind
    assert parse_indicator_type(f" {kind.value.lower()} ") is kind


def test_parse_indicator_type_rejects_unknown_names() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_indicator_type("FileSha512")
    assert info.value.field == "indicatorType"
    assert "FileSha512" in info.value.reason


@pytest.mark.parametrize("severity", list(Severity))
def test_parse_severity(severity: Severity) -> None:
    assert parse_severity(severity.value.lower()) is severity


def test_parse_severity_rejects_unknown_names() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_severity("Critical")
    assert info.value.field == "severity"
    assert "Informational" in info.value.reason


def test_type_families() -> None:
    hashes = {t for t in IndicatorType if t.is_file_hash}
    network = {t for t in IndicatorType if t.is_network}
    assert hashes == {IndicatorType.FILE_SHA1, IndicatorType.FILE_SHA256, IndicatorType.FILE_MD5}
    assert network == {IndicatorType.IP_ADDRESS, IndicatorType.DOMAIN_NAME, IndicatorType.URL}
    assert not IndicatorType.CERTIFICATE_THUMBPRINT.is_file_hash
    assert not IndicatorType.CERTIFICATE_THUMBPRINT.is_network


def test_blocking_actions() -> None:
    assert {a for a in Action if a.blocks} == {
        Action.WARN,
        Action.BLOCK,
        Action.BLOCK_AND_REMEDIATE,
    }
