"""Automated investigation over the in-memory stores: the list overrules verdicts from the
engine, agents and external scanners; Block queues remediation where the file was seen."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from iocd.clock import FixedClock
from iocd.compose import Instance, build
from iocd.config import Settings
from iocd.domain.agents import AgentDevice, DeviceReport
from iocd.domain.alerts import AlertClassification, AlertQuery, AlertStatus
from iocd.domain.investigations import (
    InvestigationStatus,
    Outcome,
    TaskResult,
    TaskStatus,
    VerdictSource,
)
from iocd.domain.principal import Principal, Role
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.verdicts import parse_verdict
from iocd.errors import Forbidden, InvalidInput, NotFound
from iocd.matching.columns import events_to_batch
from tests.factories import T0
from tests.services.test_detection_service import ADMIN, add

SHA = "c" * 64
ANALYST = Principal("ann", Role.ANALYST, "Cli", device_groups=frozenset({"Servers"}))


@pytest.fixture
def iocd(tmp_path: Path) -> Instance:
    return build(Settings(data_dir=tmp_path, database_url="memory://"), clock=FixedClock(T0))


def verdict(iocd: Instance, **overrides: Any) -> Any:
    body = {
        "detector": "ScannerX",
        "verdict": "Malicious",
        "deviceId": "dev-1",
        "deviceName": "laptop-1",
        "entityType": "File",
        "sha256": SHA.upper(),
        "title": "Trojan found",
        "severity": "High",
    }
    body.update(overrides)
    return iocd.investigations.submit_verdict(ADMIN, parse_verdict(body, T0))


def enrol(iocd: Instance, hostname: str) -> AgentDevice:
    _, token = iocd.agents.create_enrollment_token(ADMIN)
    device, _credential = iocd.agents.enroll(token, DeviceReport(hostname))
    return device


def seen(iocd: Instance, device: AgentDevice, sha: str = SHA) -> None:
    event = TelemetryEvent(
        T0 - timedelta(hours=1),
        EventKind.FILE,
        device.device_id,
        device.hostname,
        sha256=sha,
        file_path="/tmp/x.bin",
    )
    iocd.detection.ingest([events_to_batch([event])], ADMIN)


def test_an_allowed_indicator_closes_an_external_bad_verdict(iocd: Instance) -> None:
    allowed = add(iocd, "FileSha256", SHA, "Allowed")
    item = verdict(iocd)
    assert (item.status, item.outcome) == (
        InvestigationStatus.COMPLETED,
        Outcome.ALLOWED_BY_INDICATOR,
    )
    assert item.source is VerdictSource.EXTERNAL and item.detector == "ScannerX"
    assert item.indicator_id == allowed
    alert = iocd.alerts.get(ADMIN, item.alert_id)
    assert alert.detection_source == "ExternalVerdict"
    assert alert.status is AlertStatus.RESOLVED
    assert alert.classification is AlertClassification.FALSE_POSITIVE
    assert f"Allowed by indicator {allowed}" in alert.comments[-1].comment
    actions = [s.action for s in item.steps]
    assert actions[:3] == ["opened", "entities gathered", "list applied"]
    assert actions[-1] == "outcome: AllowedByIndicator"


def test_no_list_verdict_leaves_the_alert_open(iocd: Instance) -> None:
    item = verdict(iocd)
    assert (item.status, item.outcome) == (InvestigationStatus.COMPLETED, Outcome.NO_LIST_VERDICT)
    assert item.indicator_id is None
    assert iocd.alerts.get(ADMIN, item.alert_id).status is AlertStatus.NEW
    assert "no indicator" in item.steps[2].detail


def test_block_queues_remediation_on_every_device_where_the_file_was_seen(iocd: Instance) -> None:
    one, two, three = (enrol(iocd, f"host-{n}") for n in (1, 2, 3))
    seen(iocd, one)
    seen(iocd, two)
    seen(iocd, three, "d" * 64)  # another file
    add(iocd, "FileSha256", SHA, "Block")
    item = verdict(iocd, deviceId="elsewhere", deviceName="no-agent")
    assert (item.status, item.outcome) == (InvestigationStatus.RUNNING, Outcome.REMEDIATING)
    _, tasks = iocd.investigations.get(ADMIN, item.id)
    assert {t.device_id for t in tasks} == {one.device_id, two.device_id}
    assert all(t.status is TaskStatus.PENDING and t.value == SHA for t in tasks)
    actions = [s.action for s in item.steps]
    assert "not remediable" in actions  # the verdict's own device runs no agent
    assert actions.count("remediation queued") == 2

    # the agents fetch and finish them; the investigation completes
    for device in (one, two):
        (task,) = iocd.remediation.tasks_for(device)
        assert task.status is TaskStatus.DELIVERED
        iocd.remediation.report(device, task.id, TaskResult(TaskStatus.DONE, "quarantined", 1))
    done, tasks = iocd.investigations.get(ADMIN, item.id)
    assert (done.status, done.outcome) == (InvestigationStatus.COMPLETED, Outcome.REMEDIATED)
    assert all(t.status is TaskStatus.DONE for t in tasks)
    assert iocd.remediation.tasks_for(one) == []
    with pytest.raises(NotFound):
        iocd.remediation.report(three, tasks[0].id, TaskResult(TaskStatus.DONE, "x"))

    # a second verdict on the same file queues nothing new while tasks are open... or done
    again = verdict(iocd, deviceId="other", deviceName="other")
    assert again.id != item.id


def test_engine_and_agent_alerts_open_investigations_in_the_background_pass(
    iocd: Instance,
) -> None:
    add(iocd, "FileSha256", SHA, "Audit")
    device = enrol(iocd, "host-a")
    seen(iocd, device)
    iocd.detection.step()
    (alert,) = iocd.alerts.list(ADMIN, AlertQuery(top=10)).items
    assert iocd.investigations.run_pending() == 1
    assert iocd.investigations.run_pending() == 0
    item = iocd.investigations.for_alert(ADMIN, alert.id)
    assert item is not None and item.source is VerdictSource.ENGINE
    assert item.outcome is Outcome.NO_LIST_VERDICT  # Audit does not overrule anything


def test_verdicts_need_an_administrator_and_valid_input(iocd: Instance) -> None:
    with pytest.raises(Forbidden):
        iocd.investigations.submit_verdict(ANALYST, parse_verdict(_body(), T0))
    app = replace(ADMIN, own_only=True)
    with pytest.raises(Forbidden):
        iocd.investigations.submit_verdict(app, parse_verdict(_body(), T0))
    with pytest.raises(InvalidInput):
        parse_verdict({**_body(), "verdict": "Evil"}, T0)
    with pytest.raises(InvalidInput):
        parse_verdict({**_body(), "sha256": None}, T0)


def test_analysts_see_the_investigations_of_their_groups(iocd: Instance) -> None:
    item = verdict(iocd)
    assert item.rbac_group_name == "Ungrouped devices"
    assert iocd.investigations.list(ANALYST).items == []
    with pytest.raises(Forbidden):
        iocd.investigations.get(ANALYST, item.id)
    assert [i.id for i in iocd.investigations.list(ADMIN).items] == [item.id]
    assert iocd.investigations.list(ADMIN, status="Running").total == 0


def _body() -> dict[str, Any]:
    return {
        "detector": "X",
        "verdict": "Malicious",
        "deviceId": "d",
        "entityType": "File",
        "sha256": SHA,
    }
