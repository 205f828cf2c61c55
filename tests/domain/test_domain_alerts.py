"""The alert PATCH parser and the patch itself (pure)."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.alert_patch import AlertPatch, parse_alert_patch
from iocd.domain.alerts import (
    ALERT_FIELDS,
    AlertClassification,
    AlertStatus,
    EntityType,
    EventValues,
    Evidence,
    evidence_from_wire,
    evidence_to_wire,
    evidence_wire_of_values,
)
from iocd.domain.indicator import format_datetime
from iocd.errors import InvalidInput

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "Closed"}, "status"),
        ({"status": None}, "status"),
        ({"classification": "Bad"}, "classification"),
        ({"determination": 3}, "determination"),
        ({"assignedTo": ["x"]}, "assignedTo"),
        ({"comment": "   "}, "comment"),
        ({"comment": "x" * 9000}, "comment"),
        ({"comment": None}, "comment"),
        ({"title": "ignored"}, "body"),
        ([], "body"),
    ],
)
def test_bad_patches_name_the_field(body: object, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_alert_patch(body)
    assert caught.value.field == field


def test_patch_values_are_read_in_any_case_and_null_clears() -> None:
    patch = parse_alert_patch(
        {
            "status": "inprogress",
            "classification": "falsepositive",
            "determination": None,
            "assignedTo": " ",
            "unknown": 1,
        }
    )
    assert patch == AlertPatch(
        status=AlertStatus.IN_PROGRESS,
        classification=AlertClassification.FALSE_POSITIVE,
        cleared=frozenset({"determination", "assignedTo"}),
    )


def test_evidence_wire_round_trip_leaves_absent_fields_out() -> None:
    evidence = Evidence("Ip", T0, T0, ip_address="203.0.113.9", port=443)
    wire = evidence_to_wire(evidence)
    assert set(wire) == {"entityType", "evidenceCreationTime", "lastSeenTime", "ipAddress", "port"}
    assert evidence_from_wire(wire) == evidence


_VALUE_FIELDS: dict[str, st.SearchStrategy[object]] = {
    f.name: st.none() | st.text(max_size=12) for f in fields(EventValues)
}
_VALUE_FIELDS["remote_port"] = st.none() | st.integers(0, 65535)  # every other field is text
_values = st.builds(EventValues, **_VALUE_FIELDS)


@given(
    st.sampled_from([*EntityType, "Other"]),
    st.text(max_size=12),
    _values,
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(timezones=st.just(UTC)),
)
def test_evidence_wire_of_values_is_the_wire_of_the_evidence(
    kind: str, entity: str, values: EventValues, first: datetime, last: datetime
) -> None:
    """Scans write an evidence's wire form straight from the event's values: the same dict,
    keys in the same order (the stored JSON text is the same), as through an Evidence."""
    times = (format_datetime(first), format_datetime(last))
    direct = evidence_wire_of_values(kind, entity, values, times)
    through = evidence_to_wire(Evidence.of_values(kind, entity, first, last, values))
    assert list(direct.items()) == list(through.items())


def test_alert_field_table_is_consistent() -> None:
    assert ALERT_FIELDS.check("status") == "status"
    assert ALERT_FIELDS.by_folded("MACHINEID") == "machineId"
    assert "historical" not in ALERT_FIELDS.text_fields
    assert "machineId" in ALERT_FIELDS.text_fields
