"""Automated investigation (SPEC section 5): every alert opens one; it gathers the alert's
entities, applies the list after the verdict, records each step, and may queue remediation
tasks that agents carry out. Pure values.

An `Investigation` belongs to one alert (at most one per alert) and takes that alert's device
group, so whoever may see the alert may see its investigation. Its `outcome` says what the list
made of the verdict: `AllowedByIndicator` (an Allowed indicator wins: the alert is closed),
`Remediating`/`Remediated` (a Block indicator wins for a file: tasks go to every device where
the file was seen), `Blocked` (a Block wins for something no agent can remove, such as an
address), `NoListVerdict` (the list has nothing to add). A `RemediationTask` is one file to
quarantine on one device; the investigation completes once every task is finished.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from iocd.domain.alerts import AGENT_SOURCE, EXTERNAL_SOURCE, Alert, EntityType
from iocd.domain.indicator import format_datetime, parse_datetime
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.errors import InvalidInput


class InvestigationStatus(StrEnum):
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"


class VerdictSource(StrEnum):
    ENGINE = "Engine"
    AGENT = "Agent"
    EXTERNAL = "External"


class Outcome(StrEnum):
    PENDING = "Pending"
    ALLOWED_BY_INDICATOR = "AllowedByIndicator"
    REMEDIATING = "Remediating"
    REMEDIATED = "Remediated"
    BLOCKED = "Blocked"
    NO_LIST_VERDICT = "NoListVerdict"


class TaskStatus(StrEnum):
    PENDING = "Pending"
    DELIVERED = "Delivered"
    DONE = "Done"
    FAILED = "Failed"


FINISHED = frozenset({TaskStatus.DONE, TaskStatus.FAILED})
HASH_KINDS = ("sha256", "sha1", "md5")
ENTITY_KINDS = (*HASH_KINDS, "ip", "domain", "url")


@dataclass(frozen=True, slots=True)
class Entity:
    """One thing an alert is about: `kind` is sha256, sha1, md5, ip, domain or url."""

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class Step:
    time: datetime
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class Investigation:
    id: int
    alert_id: int
    status: InvestigationStatus
    outcome: Outcome
    source: VerdictSource
    detector: str
    device_id: str
    rbac_group_name: str
    created_at: datetime
    updated_at: datetime
    entities: tuple[Entity, ...] = ()
    steps: tuple[Step, ...] = ()
    indicator_id: int | None = None
    """The indicator whose list verdict decided (None when the list had nothing to add)."""

    def step(self, time: datetime, action: str, detail: str) -> Investigation:
        """The investigation with one more recorded step."""
        return replace(self, steps=(*self.steps, Step(time, action, detail)), updated_at=time)


@dataclass(frozen=True, slots=True)
class RemediationTask:
    """Quarantine the file with `kind` hash `value` on one device."""

    id: int
    investigation_id: int
    device_id: str
    device_name: str
    kind: str
    value: str
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    indicator_id: int | None = None
    result: str = ""
    quarantined: int = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def source_of(alert: Alert) -> VerdictSource:
    if alert.detection_source == EXTERNAL_SOURCE:
        return VerdictSource.EXTERNAL
    if alert.detection_source == AGENT_SOURCE:
        return VerdictSource.AGENT
    return VerdictSource.ENGINE


def entities_of(alert: Alert) -> tuple[Entity, ...]:
    """The entities of an alert's evidence (and the entity that matched), each once."""
    found: dict[Entity, None] = {}
    for e in alert.evidence:
        for kind, value in (
            ("sha256", e.sha256),
            ("sha1", e.sha1),
            ("md5", e.md5),
            ("ip", e.ip_address),
            ("domain", e.domain_name),
            ("url", e.url),
        ):
            if value:
                found[Entity(kind, value)] = None
    if not found and alert.entity:
        found[Entity(_kind_of(alert.entity_type, alert.entity), alert.entity)] = None
    return tuple(found)


def _kind_of(entity_type: str, value: str) -> str:
    if entity_type == EntityType.FILE:
        return {64: "sha256", 40: "sha1", 32: "md5"}.get(len(value), "sha256")
    return {"Ip": "ip", "Domain": "domain"}.get(entity_type, "url")


def event_of(alert: Alert, entities: Sequence[Entity]) -> TelemetryEvent:
    """A stand-in event carrying the entities on the alert's device, for the list to decide."""
    values = {e.kind: e.value for e in entities}
    files = any(k in values for k in HASH_KINDS)
    return TelemetryEvent(
        time=alert.last_event_time,
        kind=EventKind.FILE if files else EventKind.NETWORK,
        device_id=alert.machine_id,
        device_name=alert.computer_dns_name,
        sha256=values.get("sha256"),
        sha1=values.get("sha1"),
        md5=values.get("md5"),
        remote_ip=values.get("ip"),
        domain=values.get("domain"),
        url=values.get("url"),
        source="investigation",
        device_group=alert.rbac_group_name,
    )


def settle(
    investigation: Investigation, tasks: Sequence[RemediationTask], now: datetime
) -> Investigation:
    """A remediating investigation completes once every task is finished (Failed if any
    task failed); otherwise it is returned unchanged."""
    if investigation.outcome is not Outcome.REMEDIATING or not all(t.finished for t in tasks):
        return investigation
    failed = [t for t in tasks if t.status is TaskStatus.FAILED]
    done = replace(
        investigation,
        status=InvestigationStatus.FAILED if failed else InvestigationStatus.COMPLETED,
        outcome=Outcome.REMEDIATED,
    )
    detail = f"{len(tasks) - len(failed)} of {len(tasks)} remediation tasks succeeded"
    return done.step(now, "remediation finished", detail)


# -- wire forms (API and the stores' JSON columns) ----------------------------------------------


def investigation_to_wire(item: Investigation) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "alertId": str(item.alert_id),
        "status": item.status.value,
        "outcome": item.outcome.value,
        "verdictSource": item.source.value,
        "detector": item.detector,
        "machineId": item.device_id,
        "rbacGroupName": item.rbac_group_name,
        "createdTime": format_datetime(item.created_at),
        "lastUpdateTime": format_datetime(item.updated_at),
        "indicatorId": None if item.indicator_id is None else str(item.indicator_id),
        "entities": [{"kind": e.kind, "value": e.value} for e in item.entities],
        "steps": [
            {"time": format_datetime(s.time), "action": s.action, "detail": s.detail}
            for s in item.steps
        ],
    }


def investigation_from_wire(data: Mapping[str, Any]) -> Investigation:
    indicator = data.get("indicatorId")
    return Investigation(
        id=int(data["id"]),
        alert_id=int(data["alertId"]),
        status=InvestigationStatus(data["status"]),
        outcome=Outcome(data["outcome"]),
        source=VerdictSource(data["verdictSource"]),
        detector=str(data["detector"]),
        device_id=str(data["machineId"]),
        rbac_group_name=str(data["rbacGroupName"]),
        created_at=parse_datetime("createdTime", str(data["createdTime"])),
        updated_at=parse_datetime("lastUpdateTime", str(data["lastUpdateTime"])),
        indicator_id=None if indicator is None else int(indicator),
        entities=tuple(Entity(str(e["kind"]), str(e["value"])) for e in data["entities"]),
        steps=tuple(
            Step(parse_datetime("time", str(s["time"])), str(s["action"]), str(s["detail"]))
            for s in data["steps"]
        ),
    )


def task_to_wire(task: RemediationTask) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "investigationId": str(task.investigation_id),
        "deviceId": task.device_id,
        "deviceName": task.device_name,
        "action": "QuarantineFile",
        "entityType": "File",
        task.kind: task.value,
        "hashType": task.kind,
        "value": task.value,
        "indicatorId": None if task.indicator_id is None else str(task.indicator_id),
        "status": task.status.value,
        "createdTime": format_datetime(task.created_at),
        "lastUpdateTime": format_datetime(task.updated_at),
        "result": task.result,
        "quarantined": task.quarantined,
    }


def task_from_wire(data: Mapping[str, Any]) -> RemediationTask:
    indicator = data.get("indicatorId")
    return RemediationTask(
        id=int(data["id"]),
        investigation_id=int(data["investigationId"]),
        device_id=str(data["deviceId"]),
        device_name=str(data["deviceName"]),
        kind=str(data["hashType"]),
        value=str(data["value"]),
        status=TaskStatus(data["status"]),
        created_at=parse_datetime("createdTime", str(data["createdTime"])),
        updated_at=parse_datetime("lastUpdateTime", str(data["lastUpdateTime"])),
        indicator_id=None if indicator is None else int(indicator),
        result=str(data.get("result") or ""),
        quarantined=int(data.get("quarantined") or 0),
    )


@dataclass(frozen=True, slots=True)
class TaskResult:
    """What an agent reports for a task: done (found and quarantined, or not present) or
    failed, with a human-readable message and how many files it quarantined."""

    status: TaskStatus
    message: str
    quarantined: int = 0


def parse_task_result(data: object) -> TaskResult:
    if not isinstance(data, Mapping):
        raise InvalidInput("body", "must be a JSON object", "InvalidRequestBody")
    raw = data.get("status")
    if raw not in (TaskStatus.DONE.value, TaskStatus.FAILED.value):
        raise InvalidInput("status", "must be Done or Failed")
    message = data.get("message", "")
    if not isinstance(message, str) or len(message) > 4096:
        raise InvalidInput("message", "must be a string of at most 4096 characters")
    count = data.get("quarantined", 0)
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise InvalidInput("quarantined", "must be a non-negative integer")
    return TaskResult(TaskStatus(raw), message.strip(), count)
