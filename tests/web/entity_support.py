"""A small world for entity and alert pages: two device groups matched by device name, file and
network telemetry on devices of both, indicators that alert on some of it, scanned by the
detection engine. Used by the HTTP tests here and the browser tests in tests/e2e."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from iocd.domain.accounts import GroupRules
from iocd.domain.indicator import Indicator, IndicatorDraft
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.matching.columns import events_to_batch
from iocd.services.detection import GROUPS_TTL_SECONDS
from tests.api.api_support import ADMIN, unique
from tests.factories import make_fields
from tests.web.portal_support import LivePortal


@dataclass(frozen=True)
class World:
    group_a: str
    group_b: str
    device_a: str
    device_b: str
    sha256: str
    sha1: str
    md5: str
    thumbprint: str
    domain: str
    ip: str
    url: str
    domain_indicator: Indicator
    file_indicator: Indicator


def _hex(seed: str, width: int) -> str:
    import hashlib

    return hashlib.sha256(seed.encode()).hexdigest()[:width]


def build_world(portal: LivePortal, alerts_per_device: int = 1) -> World:
    """Groups A and B (devices named `<a>-*` and `<b>-*`), a file seen on one device of each,
    a domain reached from both, an Audit indicator on the domain (alerting in both groups) and
    an Audit indicator on the file's MD5."""
    tag = unique("w")
    group_a, group_b = f"A {tag}", f"B {tag}"
    accounts = portal.instance.accounts
    accounts.create_group(group_a, None, GroupRules(names=(f"{tag}-a-*",)), ADMIN)
    accounts.create_group(group_b, None, GroupRules(names=(f"{tag}-b-*",)), ADMIN)
    _until_the_engine_knows(portal, group_a, group_b)
    device_a, device_b = f"{tag}-a-1", f"{tag}-b-1"
    sha256, sha1, md5 = _hex(tag + "f", 64), _hex(tag + "f1", 40), _hex(tag + "f5", 32)
    thumbprint = _hex(tag + "t", 40)
    domain = f"c2.{tag}.example.net"
    ip, url = "203.0.113.45", f"https://www.{tag}.example.net/drop/payload.bin?x=1"
    now = portal.clock.now()
    events: list[TelemetryEvent] = []
    for n in range(alerts_per_device):
        for device in (device_a, device_b):
            at = now - timedelta(hours=2, minutes=n)
            events.append(
                TelemetryEvent(
                    time=at,
                    kind=EventKind.PROCESS,
                    device_id=device,
                    device_name=device,
                    sha256=sha256,
                    sha1=sha1,
                    md5=md5,
                    signer_thumbprint=thumbprint,
                    signature_valid=True,
                    signer_trusted=False,
                    file_name="invoice.exe",
                    file_path=r"C:\Users\pat\Downloads\invoice.exe",
                    source="native",
                )
            )
            events.append(
                TelemetryEvent(
                    time=at + timedelta(minutes=1),
                    kind=EventKind.DNS,
                    device_id=device,
                    device_name=device,
                    domain=f"x{n}.{domain}",
                    remote_ip=ip,
                    source="native",
                )
            )
            events.append(
                TelemetryEvent(
                    time=at + timedelta(minutes=2),
                    kind=EventKind.HTTP,
                    device_id=device,
                    device_name=device,
                    url=url,
                    domain=f"www.{tag}.example.net",
                    remote_ip=ip,
                    remote_port=443,
                    source="native",
                )
            )
    detection = portal.instance.detection
    detection.ingest([events_to_batch(events)], ADMIN)
    domain_indicator = _submit(portal, IndicatorType.DOMAIN_NAME, domain, Action.AUDIT)
    file_indicator = _submit(portal, IndicatorType.FILE_MD5, md5, Action.AUDIT)
    detection.step()
    return World(
        group_a,
        group_b,
        device_a,
        device_b,
        sha256,
        sha1,
        md5,
        thumbprint,
        domain,
        ip,
        url,
        domain_indicator,
        file_indicator,
    )


def _submit(portal: LivePortal, kind: IndicatorType, value: str, action: Action) -> Indicator:
    fields = make_fields(
        1,
        kind,
        value=value,
        action=action,
        generate_alert=True,
        severity=Severity.HIGH,
        title=f"{action.value} {value}",
    )
    result = portal.instance.indicators.submit(IndicatorDraft(fields), ADMIN.via("Portal"))
    assert result.indicator is not None, result
    return result.indicator


def _until_the_engine_knows(portal: LivePortal, *groups: str) -> None:
    """The engine re-reads group definitions every GROUPS_TTL_SECONDS: wait for the new ones."""
    deadline = time.monotonic() + GROUPS_TTL_SECONDS * 3
    directory = portal.instance.detection.devices
    while not set(groups) <= {g.name for g in directory.groups()}:
        assert time.monotonic() < deadline, "the detection engine never saw the new groups"
        time.sleep(0.1)
