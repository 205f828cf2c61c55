"""A scanned batch's matches as columns: each detection's entity, taken from the columns, is
what `matched_entity` says for its event and indicator, for every indicator type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iocd.compose import build
from iocd.config import Settings
from iocd.domain.alerts import AlertQuery, Evidence
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.matching.columns import events_to_batch
from iocd.services.event_entities import matched_entity
from tests.factories import T0
from tests.services.test_detection_service import ADMIN, add

SHA256, SHA1, MD5 = "a" * 64, "b" * 40, "c" * 32


def test_entities_from_columns_equal_matched_entity_for_every_type(tmp_path: Path) -> None:
    iocd = build(Settings(data_dir=tmp_path, database_url="memory://"))
    for kind, value in (
        ("FileSha256", SHA256),
        ("FileSha1", SHA1),
        ("FileMd5", MD5),
        ("CertificateThumbprint", "d" * 40),
        ("IpAddress", "203.0.113.0/24"),
        ("IpAddress", "2001:db8::7"),
        ("DomainName", "evil.example"),
        ("Url", "https://bad.example/path"),
    ):
        add(iocd, kind, value)

    def event(**values: Any) -> TelemetryEvent:
        is_file = any(k in values for k in ("sha256", "sha1", "md5"))
        kind = EventKind.FILE if is_file else EventKind.NETWORK
        return TelemetryEvent(time=T0, kind=kind, device_id="d1", **values)

    events = [
        event(sha256=SHA256, sha1=SHA1, md5=MD5),
        event(sha1=SHA1),
        event(md5=MD5, signer_thumbprint="d" * 40),
        event(sha256="e" * 64, signer_thumbprint="d" * 40),
        event(remote_ip="203.0.113.9", remote_port=443),
        event(remote_ip="2001:db8::7"),
        event(domain="a.b.evil.example", remote_ip="198.51.100.1"),
        event(sni="evil.example"),
        event(url="https://bad.example/path/more?q=1", domain="bad.example"),
    ]
    report = iocd.detection.scan(events_to_batch(events), keep=True, record=False)
    assert len(report.detections) >= len(events)
    assert {d.entity_type for d in report.detections} == {"File", "Ip", "Domain", "Url"}
    index = iocd.detection.keeper.current
    for detection in report.detections:
        indicator = index.get(detection.indicator_id)
        assert indicator is not None
        expected = matched_entity(indicator, detection.event)
        assert (detection.entity_type, detection.entity) == expected


def test_new_alerts_take_evidence_and_device_from_their_first_event(tmp_path: Path) -> None:
    iocd = build(Settings(data_dir=tmp_path, database_url="memory://"))
    add(iocd, "FileSha256", SHA256)
    add(iocd, "IpAddress", "203.0.113.0/24")
    add(iocd, "Url", "https://bad.example/path")
    events = [
        TelemetryEvent(
            time=T0,
            kind=EventKind.FILE,
            device_id="d1",
            device_name="laptop-1",
            sha256=SHA256,
            md5=MD5,
            file_name="x.exe",
            file_path="C:\\x.exe",
        ),
        TelemetryEvent(
            time=T0, kind=EventKind.NETWORK, device_id="d2", remote_ip="203.0.113.9", remote_port=8
        ),
        TelemetryEvent(
            time=T0,
            kind=EventKind.NETWORK,
            device_id="d3",
            url="https://bad.example/path/x",
            domain="bad.example",
        ),
    ]
    report = iocd.detection.scan(events_to_batch(events), keep=True)
    assert report.alerts_created == 3
    by_key = {d.key: d for d in report.detections}
    for alert in iocd.alerts.list(ADMIN, AlertQuery(top=10)).items:
        detection = by_key[alert.key]
        assert alert.evidence == (Evidence.of(detection),)
        assert alert.computer_dns_name == (detection.event.device_name or detection.event.device_id)
        assert alert.rbac_group_name == detection.event.device_group
        assert alert.decision == detection.decision
