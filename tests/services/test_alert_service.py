"""Raising, deduplicating, reading and triaging alerts; sightings (over the in-memory store)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from iocd.clock import FixedClock
from iocd.compose import build
from iocd.config import Settings
from iocd.domain.alert_patch import AlertPatch, parse_alert_patch
from iocd.domain.alerts import (
    AlertClassification,
    AlertDetermination,
    AlertQuery,
    AlertStatus,
    Detection,
)
from iocd.domain.devices import Device, Sighting, Sightings
from iocd.domain.principal import Principal, PrincipalKind, Role
from iocd.domain.query import Compare, Op
from iocd.domain.types import Severity
from iocd.errors import Forbidden, NotFound
from iocd.services.alerts import AlertService
from iocd.store.memory import MemoryStore
from tests.alert_factories import make_detection
from tests.factories import T0, make_fields, store_new

H = timedelta(hours=1)
ADMIN = Principal("root", Role.GLOBAL_ADMINISTRATOR, "Cli")
ANALYST = Principal("ana", Role.ANALYST, "PublicApi", device_groups=frozenset({"Servers"}))
OUTSIDER = Principal("out", Role.ANALYST, "PublicApi", device_groups=frozenset({"Laptops"}))
READER = Principal("reader", Role.READ_ONLY, "PublicApi")


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    with store.transaction() as tx:
        store_new(
            tx,
            [
                make_fields(
                    1,
                    title="Known bad file",
                    description="Seen in campaign X",
                    severity=Severity.HIGH,
                    category="Malware",
                    mitre_techniques=("T1204",),
                    recommended_actions="Isolate the host",
                ),
                make_fields(2, title="Second indicator"),
            ],
            created_by="app-1",
        )
    return store


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0 + 10 * H)


@pytest.fixture
def service(store: MemoryStore, clock: FixedClock) -> AlertService:
    return AlertService(store, clock, timedelta(hours=2))


def test_an_alert_takes_its_fields_from_the_indicator_and_the_event(
    service: AlertService,
) -> None:
    detection = make_detection(1)
    raised = service.raise_alerts([detection])
    assert (raised.created, raised.updated) == (1, 0)
    alert = raised.alerts[0]
    assert alert == service.get(ADMIN, alert.id)
    assert (alert.title, alert.description, alert.severity) == (
        "Known bad file",
        "Seen in campaign X",
        Severity.HIGH,
    )
    assert (alert.category, alert.mitre_techniques) == ("Malware", ("T1204",))
    assert alert.recommended_actions == "Isolate the host"
    assert (alert.status, alert.detection_source, alert.historical) == (
        AlertStatus.NEW,
        "CustomTI",
        False,
    )
    assert (alert.machine_id, alert.computer_dns_name, alert.rbac_group_name) == (
        "dev-1",
        "dev-1.corp.example",
        "Servers",
    )
    assert (alert.first_event_time, alert.last_event_time, alert.created_at) == (
        T0,
        T0,
        T0 + 10 * H,
    )
    assert alert.decision == detection.decision
    assert alert.indicator_created_by == "app-1"
    (evidence,) = alert.evidence
    assert (evidence.entity_type, evidence.sha256, evidence.file_name) == (
        "File",
        detection.entity,
        "evil.exe",
    )


def test_repeats_within_the_window_update_one_alert(service: AlertService) -> None:
    first = service.raise_alerts([make_detection(1, at=T0)]).alerts[0]
    again = service.raise_alerts([make_detection(1, at=T0 + H), make_detection(1, at=T0 + 2 * H)])
    assert (again.created, again.updated) == (0, 1)
    alert = again.alerts[0]
    assert alert.id == first.id
    assert (alert.occurrences, alert.first_event_time, alert.last_event_time) == (
        3,
        T0,
        T0 + 2 * H,
    )
    assert (alert.evidence[0].time, alert.evidence[0].last_seen) == (T0, T0 + 2 * H)
    assert service.list(ADMIN, AlertQuery(), count=True).total == 1


def test_past_the_window_another_device_or_entity_raises_new_alerts(
    service: AlertService,
) -> None:
    service.raise_alerts([make_detection(1, at=T0)])
    raised = service.raise_alerts(
        [
            make_detection(1, at=T0 + 3 * H),  # past the 2 h window
            make_detection(1, device="dev-2", at=T0),
            make_detection(1, sha256="cd" * 32, at=T0),
            make_detection(2, at=T0),
        ]
    )
    assert (raised.created, raised.updated) == (4, 0)
    assert service.list(ADMIN, AlertQuery(), count=True).total == 5


def test_a_resolved_alert_is_not_reopened(service: AlertService) -> None:
    first = service.raise_alerts([make_detection(1, at=T0)]).alerts[0]
    service.resolve(ADMIN, first.id)
    repeat = service.raise_alerts([make_detection(1, at=T0 + H)])
    assert repeat.created == 1 and repeat.alerts[0].id != first.id
    assert service.get(ADMIN, first.id).occurrences == 1


def test_same_key_twice_in_one_batch_is_one_alert(service: AlertService) -> None:
    raised = service.raise_alerts([make_detection(1, at=T0 + H), make_detection(1, at=T0)])
    assert (raised.created, raised.updated, len(raised.alerts)) == (1, 0, 1)
    assert raised.alerts[0].occurrences == 2
    assert raised.alerts[0].first_event_time == T0


def test_historical_until_a_live_repeat(service: AlertService) -> None:
    hunted = service.raise_alerts([make_detection(1, at=T0, historical=True)]).alerts[0]
    assert hunted.historical
    again = service.raise_alerts([make_detection(1, at=T0 + H, historical=True)]).alerts[0]
    assert again.historical and again.id == hunted.id
    live = service.raise_alerts([make_detection(1, at=T0 + 2 * H)]).alerts[0]
    assert live.id == hunted.id and not live.historical


def test_unknown_indicators_and_empty_batches_raise_nothing(service: AlertService) -> None:
    assert service.raise_alerts([]).alerts == []
    assert service.raise_alerts([make_detection(99)]).created == 0


def test_analysts_see_only_their_groups_and_denials_are_audited(
    service: AlertService, store: MemoryStore
) -> None:
    alert = service.raise_alerts([make_detection(1)]).alerts[0]
    assert [a.id for a in service.list(ANALYST, AlertQuery()).items] == [alert.id]
    assert service.list(OUTSIDER, AlertQuery()).items == []
    with pytest.raises(Forbidden):
        service.get(OUTSIDER, alert.id)
    with pytest.raises(Forbidden):
        service.update(OUTSIDER, alert.id, AlertPatch(status=AlertStatus.IN_PROGRESS))
    with pytest.raises(NotFound):
        service.get(ADMIN, 999)
    with store.accounts(readonly=True) as tx:
        denials = [e for e in tx.recent_audit(10) if e.action == "denied"]
    assert [(e.actor, e.changes["alertId"]) for e in denials] == [
        ("out", str(alert.id)),
        ("out", str(alert.id)),
    ]


def test_read_only_reads_but_cannot_patch(service: AlertService) -> None:
    alert = service.raise_alerts([make_detection(1)]).alerts[0]
    assert service.get(READER, alert.id) == alert
    with pytest.raises(Forbidden, match="read-only"):
        service.update(READER, alert.id, AlertPatch(comment="hi"))


def test_own_only_applications_see_alerts_of_their_indicators(service: AlertService) -> None:
    alert = service.raise_alerts([make_detection(1)]).alerts[0]
    owner = Principal(
        "app-1", Role.SECURITY_ADMINISTRATOR, "PublicApi", PrincipalKind.APPLICATION, own_only=True
    )
    other = Principal(
        "app-2", Role.SECURITY_ADMINISTRATOR, "PublicApi", PrincipalKind.APPLICATION, own_only=True
    )
    assert [a.id for a in service.list(owner, AlertQuery()).items] == [alert.id]
    assert service.list(other, AlertQuery()).items == []


def test_triage_changes_are_recorded_and_a_no_op_writes_nothing(
    service: AlertService, store: MemoryStore, clock: FixedClock
) -> None:
    alert = service.raise_alerts([make_detection(1)]).alerts[0]
    clock.advance(H)
    patch = parse_alert_patch(
        {
            "status": "resolved",
            "classification": "TruePositive",
            "determination": "Malware",
            "assignedTo": "ana@example.com",
            "comment": "  confirmed  ",
        }
    )
    done = service.update(ANALYST, alert.id, patch)
    assert done.status is AlertStatus.RESOLVED and done.resolved_at == T0 + 11 * H
    assert done.classification is AlertClassification.TRUE_POSITIVE
    assert done.determination is AlertDetermination.MALWARE
    assert done.assigned_to == "ana@example.com"
    assert [(c.comment, c.created_by) for c in done.comments] == [("confirmed", "ana")]
    assert done.last_updated_at == T0 + 11 * H
    assert service.get(ADMIN, alert.id) == done
    same = service.update(ANALYST, alert.id, AlertPatch(status=AlertStatus.RESOLVED))
    assert same == done
    cleared = service.update(
        ADMIN, alert.id, parse_alert_patch({"status": "New", "classification": None})
    )
    assert cleared.classification is None and cleared.resolved_at is None
    with store.accounts(readonly=True) as tx:
        updates = [e for e in tx.recent_audit(10) if e.action == "alert-updated"]
    assert len(updates) == 2
    assert updates[1].changes["status"] == ["New", "Resolved"]
    assert updates[0].changes["classification"] == ["TruePositive", None]


def test_filters_reach_the_store(service: AlertService) -> None:
    service.raise_alerts([make_detection(1), make_detection(2, device="dev-2")])
    page = service.list(ADMIN, AlertQuery(where=Compare("machineId", Op.EQ, "dev-2")))
    assert [a.indicator_id for a in page.items] == [2]
    page = service.list(ADMIN, AlertQuery(top=1), count=True)
    assert (len(page.items), page.total, page.has_more) == (1, 2, True)


def test_sightings_and_devices(service: AlertService) -> None:
    service.record_sightings(
        [Sighting(1, "dev-1", T0, T0), Sighting(1, "dev-2", T0 + H, T0 + H, 4)]
    )
    service.record_sightings([Sighting(1, "dev-1", T0 + 2 * H, T0 + 2 * H)])
    assert service.sightings_for([1, 2]) == {1: Sightings(1, 6, 2, T0, T0 + 2 * H)}
    assert service.sightings_for([]) == {}
    service.record_devices([Device("dev-1", T0, T0, "dev-1.corp", "Servers")])
    known = service.device("dev-1")
    assert known is not None and known.group == "Servers"
    assert [d.device_id for d in service.devices()] == ["dev-1"]


def test_detection_key() -> None:
    detection: Detection = make_detection(3, device="d")
    assert detection.key == (3, "d", detection.entity)


def test_dedupe_window_is_a_setting(tmp_path: Path) -> None:
    settings = Settings.from_env({"IOCD_ALERT_DEDUPE_MINUTES": "30", "IOCD_DATA_DIR": "x"})
    assert settings.alert_dedupe_minutes == 30
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings().alert_dedupe_minutes == 1440
    instance = build(Settings(data_dir=tmp_path, database_url="memory://", alert_dedupe_minutes=5))
    assert instance.alerts.dedupe_window == timedelta(minutes=5)
