"""Alerts (SPEC section 6): what the detection engine hands in and the stored alert (changes a
person makes to one are in `alert_patch`). Pure values.

A `Detection` is one alerting match: one indicator, one telemetry event, the entity of the event
that matched, and the decision of section 4. An `Alert` carries the fields of MDE's Alert entity
plus iocd's own (the indicator, the decision, the dedupe key, how many events it stands for).
Alerts dedupe on (indicator, device, entity): see services.alerts for the window.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from iocd.domain.decision import Decision
from iocd.domain.indicator import format_datetime, parse_datetime
from iocd.domain.query import Expr, FieldTable, Sight, Visibility
from iocd.domain.telemetry import TelemetryEvent
from iocd.domain.types import Severity, parse_member, parse_severity

DETECTION_SOURCE = "CustomTI"
"""MDE's detectionSource of alerts raised by custom indicators (the detection engine)."""
AGENT_SOURCE = "Agent"
"""detectionSource of alerts an endpoint agent raised (a custom indicator matched there)."""
EXTERNAL_SOURCE = "ExternalVerdict"
"""detectionSource of alerts raised by another scanner's verdict (POST /api/verdicts)."""

DedupeKey = tuple[int, str, str]
"""(indicator id, device id, canonical entity): repeats of one key within the window update one
open alert."""


class AlertStatus(StrEnum):
    NEW = "New"
    IN_PROGRESS = "InProgress"
    RESOLVED = "Resolved"


class AlertClassification(StrEnum):
    TRUE_POSITIVE = "TruePositive"
    INFORMATIONAL_EXPECTED_ACTIVITY = "InformationalExpectedActivity"
    FALSE_POSITIVE = "FalsePositive"
    UNKNOWN = "Unknown"


class AlertDetermination(StrEnum):
    """MDE's determinations, the older and the current names alike."""

    APT = "Apt"
    MALWARE = "Malware"
    SECURITY_PERSONNEL = "SecurityPersonnel"
    SECURITY_TESTING = "SecurityTesting"
    UNWANTED_SOFTWARE = "UnwantedSoftware"
    MULTI_STAGED_ATTACK = "MultiStagedAttack"
    MALICIOUS_USER_ACTIVITY = "MaliciousUserActivity"
    COMPROMISED_ACCOUNT = "CompromisedAccount"
    PHISHING = "Phishing"
    LINE_OF_BUSINESS_APPLICATION = "LineOfBusinessApplication"
    CONFIRMED_ACTIVITY = "ConfirmedActivity"
    NOT_MALICIOUS = "NotMalicious"
    NOT_ENOUGH_DATA_TO_VALIDATE = "NotEnoughDataToValidate"
    NOT_AVAILABLE = "NotAvailable"
    OTHER = "Other"


class EntityType(StrEnum):
    """MDE evidence `entityType` of what matched."""

    FILE = "File"
    IP = "Ip"
    DOMAIN = "Domain"
    URL = "Url"


@dataclass(frozen=True, slots=True)
class Detection:
    """One alerting match handed in by the detection engine.

    `entity_type` is the MDE evidence type ("File", "Ip", "Domain", "Url"); `entity` is the
    canonical value that matched (a sha256/sha1/md5 or thumbprint in hex, an address in its
    shortest form, a domain, a URL). `historical` marks a retro-hunt find in stored telemetry.
    """

    indicator_id: int
    event: TelemetryEvent
    entity_type: str
    entity: str
    decision: Decision
    historical: bool = False
    detection_source: str = DETECTION_SOURCE

    @property
    def key(self) -> DedupeKey:
        return (self.indicator_id, self.event.device_id, self.entity)


@dataclass(frozen=True, slots=True)
class EventValues:
    """The values of an event that an alert's evidence shows."""

    sha256: str | None = None
    sha1: str | None = None
    md5: str | None = None
    file_name: str | None = None
    file_path: str | None = None
    remote_port: int | None = None
    url: str | None = None
    domain: str | None = None

    @classmethod
    def of(cls, e: TelemetryEvent) -> EventValues:
        return cls(
            e.sha256, e.sha1, e.md5, e.file_name, e.file_path, e.remote_port, e.url, e.domain
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """The entity of an alert with the identifying fields of its event (MDE evidence).

    `time` is when it was first seen (evidenceCreationTime); `last_seen` moves with repeats.
    """

    entity_type: str
    time: datetime
    last_seen: datetime
    sha256: str | None = None
    sha1: str | None = None
    md5: str | None = None
    file_name: str | None = None
    file_path: str | None = None
    ip_address: str | None = None
    port: int | None = None
    domain_name: str | None = None
    url: str | None = None

    @classmethod
    def of(cls, detection: Detection) -> Evidence:
        e = detection.event
        return cls.of_values(
            detection.entity_type,
            detection.entity,
            e.time,
            e.time,
            EventValues.of(e),
        )

    @classmethod
    def of_values(
        cls, kind: str, entity: str, time: datetime, last_seen: datetime, e: EventValues
    ) -> Evidence:
        """The evidence of an entity of `kind` matched in an event with these values, seen
        from `time` to `last_seen`: a file with its hashes, name and path; an address with
        its port; a domain with the URL; a URL with the domain (`evidence_values`)."""
        return cls(kind, time, last_seen, **dict(evidence_values(kind, entity, e)))


_EVIDENCE_SOURCES: dict[str, tuple[tuple[str, str | None], ...]] = {
    EntityType.FILE: (
        ("sha256", "sha256"),
        ("sha1", "sha1"),
        ("md5", "md5"),
        ("file_name", "file_name"),
        ("file_path", "file_path"),
    ),
    EntityType.IP: (("ip_address", None), ("port", "remote_port")),
    EntityType.DOMAIN: (("domain_name", None), ("url", "url")),
    EntityType.URL: (("domain_name", "domain"), ("url", None)),
}
"""Per entity type, the Evidence attributes it shows, in Evidence's order, each taken from the
matched entity (None) or from that EventValues field."""


def evidence_values(kind: str, entity: str, e: EventValues) -> Iterator[tuple[str, Any]]:
    """(Evidence attribute, value) of what the evidence of an entity of `kind` shows, in
    Evidence's attribute order (any other kind is shown as a URL)."""
    for attribute, source in _EVIDENCE_SOURCES.get(kind, _EVIDENCE_SOURCES[EntityType.URL]):
        yield attribute, entity if source is None else getattr(e, source)


_EVIDENCE_WIRE = {
    "sha256": "sha256",
    "sha1": "sha1",
    "md5": "md5",
    "file_name": "fileName",
    "file_path": "filePath",
    "ip_address": "ipAddress",
    "port": "port",
    "domain_name": "domainName",
    "url": "url",
}


def evidence_to_wire(evidence: Evidence, times: tuple[str, str] | None = None) -> dict[str, Any]:
    """MDE's evidence shape (plus iocd's `lastSeenTime`); fields the entity lacks are left out.
    `times`: its two times already as `format_datetime` writes them (a store writing many)."""
    created, seen = (
        (format_datetime(evidence.time), format_datetime(evidence.last_seen))
        if times is None
        else times
    )
    out: dict[str, Any] = {
        "entityType": evidence.entity_type,
        "evidenceCreationTime": created,
        "lastSeenTime": seen,
    }
    for attribute, name in _EVIDENCE_WIRE.items():
        value = getattr(evidence, attribute)
        if value is not None:
            out[name] = value
    return out


def evidence_wire_of_values(
    kind: str, entity: str, e: EventValues, times: tuple[str, str]
) -> dict[str, Any]:
    """`evidence_to_wire(Evidence.of_values(kind, entity, ..., e), times)` without the Evidence
    (a scan writes one for each alert it raises)."""
    out: dict[str, Any] = {
        "entityType": kind,
        "evidenceCreationTime": times[0],
        "lastSeenTime": times[1],
    }
    for attribute, value in evidence_values(kind, entity, e):
        if value is not None:
            out[_EVIDENCE_WIRE[attribute]] = value
    return out


def evidence_from_wire(data: Mapping[str, Any]) -> Evidence:
    return Evidence(
        entity_type=str(data["entityType"]),
        time=parse_datetime("evidenceCreationTime", str(data["evidenceCreationTime"])),
        last_seen=parse_datetime("lastSeenTime", str(data["lastSeenTime"])),
        **{attribute: data.get(name) for attribute, name in _EVIDENCE_WIRE.items()},
    )


@dataclass(frozen=True, slots=True)
class AlertComment:
    comment: str
    created_by: str
    created_time: datetime


def comment_to_wire(comment: AlertComment) -> dict[str, Any]:
    return {
        "comment": comment.comment,
        "createdBy": comment.created_by,
        "createdTime": format_datetime(comment.created_time),
    }


def comment_from_wire(data: Mapping[str, Any]) -> AlertComment:
    return AlertComment(
        str(data["comment"]),
        str(data["createdBy"]),
        parse_datetime("createdTime", str(data["createdTime"])),
    )


@dataclass(frozen=True, slots=True)
class Alert:
    """A stored alert. Immutable: a change makes a new version with `replace`.

    `machine_id` is the device id of the event; `entity` (with `indicator_id` and `machine_id`)
    is the dedupe key. `occurrences` counts the detections folded into this alert;
    `indicator_created_by` lets an application holding Ti.ReadWrite see the alerts of its own
    indicators. `rbac_group_name` is the device's group ("Ungrouped devices" when it has none).
    """

    id: int
    indicator_id: int
    title: str
    description: str
    severity: Severity
    status: AlertStatus
    machine_id: str
    computer_dns_name: str
    rbac_group_name: str
    entity_type: str
    entity: str
    created_at: datetime
    last_updated_at: datetime
    first_event_time: datetime
    last_event_time: datetime
    evidence: tuple[Evidence, ...]
    decision: Decision
    indicator_created_by: str = ""
    classification: AlertClassification | None = None
    determination: AlertDetermination | None = None
    assigned_to: str | None = None
    category: str | None = None
    mitre_techniques: tuple[str, ...] = ()
    detection_source: str = DETECTION_SOURCE
    threat_name: str | None = None
    recommended_actions: str | None = None
    resolved_at: datetime | None = None
    historical: bool = False
    occurrences: int = 1
    comments: tuple[AlertComment, ...] = ()

    @property
    def key(self) -> DedupeKey:
        return (self.indicator_id, self.machine_id, self.entity)

    @property
    def is_open(self) -> bool:
        return self.status is not AlertStatus.RESOLVED


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """A page of alerts; order is stable (ties broken by id). `after_id` is keyset paging."""

    where: Expr | None = None
    order_by: tuple[tuple[str, bool], ...] = ()
    skip: int = 0
    top: int = 100
    sight: Sight = field(default_factory=Sight)
    after_id: int | None = None


def _enum_text(value: StrEnum | None) -> str | None:
    return None if value is None else value.value


ALERT_FIELDS = FieldTable(
    record="Alerts",
    getters={
        "id": lambda a: a.id,
        "indicatorId": lambda a: a.indicator_id,
        "title": lambda a: a.title,
        "description": lambda a: a.description,
        "severity": lambda a: a.severity.value,
        "status": lambda a: a.status.value,
        "classification": lambda a: _enum_text(a.classification),
        "determination": lambda a: _enum_text(a.determination),
        "assignedTo": lambda a: a.assigned_to,
        "category": lambda a: a.category,
        "mitreTechniques": lambda a: a.mitre_techniques,
        "detectionSource": lambda a: a.detection_source,
        "threatName": lambda a: a.threat_name,
        "machineId": lambda a: a.machine_id,
        "computerDnsName": lambda a: a.computer_dns_name,
        "rbacGroupName": lambda a: a.rbac_group_name,
        "entityType": lambda a: a.entity_type,
        "entity": lambda a: a.entity,
        "alertCreationTime": lambda a: a.created_at,
        "lastUpdateTime": lambda a: a.last_updated_at,
        "firstEventTime": lambda a: a.first_event_time,
        "lastEventTime": lambda a: a.last_event_time,
        "resolvedTime": lambda a: a.resolved_at,
        "historical": lambda a: a.historical,
        "occurrences": lambda a: a.occurrences,
    },
    collections=frozenset({"mitreTechniques"}),
    datetimes=frozenset(
        {"alertCreationTime", "lastUpdateTime", "firstEventTime", "lastEventTime", "resolvedTime"}
    ),
    booleans=frozenset({"historical"}),
    integers=frozenset({"id", "indicatorId", "occurrences"}),
    enums={
        "severity": parse_severity,
        "status": lambda raw: parse_member(AlertStatus, raw, "status"),
        "classification": lambda raw: parse_member(AlertClassification, raw, "classification"),
        "determination": lambda raw: parse_member(AlertDetermination, raw, "determination"),
    },
    collection_values={"mitreTechniques": lambda v: v.strip().upper()},
)
"""What `$filter` and `$orderby` may name on alerts (wire names)."""


def alert_to_wire(alert: Alert, decision: Mapping[str, Any]) -> dict[str, Any]:
    """An alert as MDE's Alert entity plus iocd's fields (`indicatorId`, `decision`, `historical`,
    `occurrences`, `resolvedTime`). `decision` is the decision's wire form
    (policy.explain.decision_to_wire), which the doors supply."""
    return {
        "id": str(alert.id),
        "title": alert.title,
        "description": alert.description,
        "severity": alert.severity.value,
        "status": alert.status.value,
        "classification": _enum_text(alert.classification),
        "determination": _enum_text(alert.determination),
        "assignedTo": alert.assigned_to,
        "category": alert.category,
        "mitreTechniques": list(alert.mitre_techniques),
        "detectionSource": alert.detection_source,
        "threatName": alert.threat_name,
        "machineId": alert.machine_id,
        "computerDnsName": alert.computer_dns_name,
        "rbacGroupName": alert.rbac_group_name,
        "alertCreationTime": format_datetime(alert.created_at),
        "lastUpdateTime": format_datetime(alert.last_updated_at),
        "firstEventTime": format_datetime(alert.first_event_time),
        "lastEventTime": format_datetime(alert.last_event_time),
        "resolvedTime": format_datetime(alert.resolved_at) if alert.resolved_at else None,
        "recommendedActions": alert.recommended_actions,
        "evidence": [evidence_to_wire(e) for e in alert.evidence],
        "comments": [comment_to_wire(c) for c in alert.comments],
        "indicatorId": str(alert.indicator_id),
        "entityType": alert.entity_type,
        "historical": alert.historical,
        "occurrences": alert.occurrences,
        "decision": dict(decision),
    }


def alert_visible(sight: Sight, alert: Alert) -> bool:
    """Whether a caller with this sight may see the alert: everything; the alerts of devices in
    its groups (analysts); or the alerts of indicators it created (Ti.ReadWrite applications)."""
    if sight.kind is Visibility.ALL:
        return True
    if sight.kind is Visibility.OWN:
        return alert.indicator_created_by == sight.owner
    return alert.rbac_group_name in sight.groups
