"""Build alerts, detections and their decisions for tests; override what a test is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from iocd.domain.alerts import Alert, AlertStatus, Detection, Evidence
from iocd.domain.decision import Candidate, Decision, Enforcement, ListedIndicator, MatchKind
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.types import Action, IndicatorType, Severity
from tests.factories import T0

SHA = "ab" * 32


def make_decision(indicator_id: int = 1, value: str = SHA) -> Decision:
    """An Audit indicator's decision on a file: no enforcement, one alert."""
    listed = ListedIndicator(indicator_id, IndicatorType.FILE_SHA256, value, Action.AUDIT)
    winner = Candidate(listed, MatchKind.SHA256)
    return Decision(Enforcement.NONE, True, winner, "only candidate", alerts=(winner,))


def make_event(
    device: str = "dev-1", at: datetime = T0, sha256: str = SHA, **overrides: Any
) -> TelemetryEvent:
    base = TelemetryEvent(
        time=at,
        kind=EventKind.PROCESS,
        device_id=device,
        device_name=f"{device}.corp.example",
        sha256=sha256,
        file_name="evil.exe",
        file_path="C:\\Temp\\evil.exe",
        device_group="Servers",
    )
    return replace(base, **overrides)


def make_detection(
    indicator_id: int = 1,
    device: str = "dev-1",
    at: datetime = T0,
    sha256: str = SHA,
    historical: bool = False,
) -> Detection:
    return Detection(
        indicator_id,
        make_event(device, at, sha256),
        "File",
        sha256,
        make_decision(indicator_id, sha256),
        historical,
    )


def make_alert(alert_id: int, **overrides: Any) -> Alert:
    """A New alert on a file seen on dev-1 at T0 (indicator 1 created by alice)."""
    detection = make_detection(overrides.pop("indicator_id", 1))
    base = Alert(
        id=alert_id,
        indicator_id=detection.indicator_id,
        title="Known bad file",
        description="seen in campaign X",
        severity=Severity.HIGH,
        status=AlertStatus.NEW,
        machine_id="dev-1",
        computer_dns_name="dev-1.corp.example",
        rbac_group_name="Servers",
        entity_type="File",
        entity=SHA,
        created_at=T0,
        last_updated_at=T0,
        first_event_time=T0,
        last_event_time=T0,
        evidence=(Evidence.of(detection),),
        decision=detection.decision,
        indicator_created_by="alice",
        category="Malware",
        mitre_techniques=("T1204",),
    )
    return replace(base, **overrides)
