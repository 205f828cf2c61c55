"""The wire shape of indicators and audit entries (MDE field names), shared by API and CLI."""

from __future__ import annotations

from typing import Any

from iocd.domain.devices import Sightings
from iocd.domain.history import AuditEntry
from iocd.domain.indicator import (
    AUTHORITY_NAMES,
    WIRE_NAMES,
    Indicator,
    format_datetime,
    wire_value,
)


def indicator_to_wire(indicator: Indicator) -> dict[str, Any]:
    """An indicator as MDE's Indicator entity (plus iocd's `state`, `rawIndicatorValue` and
    `authority`: "Organisation" or "Group", whose decision it is)."""
    f = indicator.fields
    out: dict[str, Any] = {"id": str(indicator.id)}
    for attribute, name in WIRE_NAMES.items():
        out[name] = wire_value(getattr(f, attribute))
    out.update(
        {
            "createdBy": indicator.created_by,
            "createdByDisplayName": indicator.created_by_display_name,
            "createdBySource": indicator.created_by_source,
            "sourceType": indicator.source_type,
            "creationTimeDateTimeUtc": format_datetime(indicator.created_at),
            "lastUpdateTime": format_datetime(indicator.last_updated_at),
            "lastUpdatedBy": indicator.last_updated_by,
            "rbacGroupIds": [],
            "state": indicator.state.value,
            "authority": AUTHORITY_NAMES[indicator.authority],
        }
    )
    return out


def audit_to_wire(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": format_datetime(entry.at),
        "actor": entry.actor,
        "door": entry.door,
        "action": entry.action,
        "indicatorId": str(entry.indicator_id) if entry.indicator_id is not None else None,
        "changes": entry.changes,
        "justification": entry.justification,
        "sequence": entry.sequence,
    }


def sightings_to_wire(sightings: Sightings | None) -> dict[str, Any]:
    """The sightings extension fields of an indicator: how often, on how many devices, first
    and last seen (counts 0 and times null when it never matched)."""
    if sightings is None:
        return {"sightingCount": 0, "sightingDeviceCount": 0, "firstSeen": None, "lastSeen": None}
    return {
        "sightingCount": sightings.count,
        "sightingDeviceCount": sightings.device_count,
        "firstSeen": format_datetime(sightings.first_seen),
        "lastSeen": format_datetime(sightings.last_seen),
    }
