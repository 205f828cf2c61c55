"""The detection engine end to end over the in-memory stores: ingest, scan, alerts, sightings,
device groups, index refresh and expiry, retro-hunt, explain."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from iocd.clock import FixedClock
from iocd.compose import Instance, build
from iocd.config import Settings
from iocd.domain.accounts import GroupRules
from iocd.domain.alerts import AlertQuery
from iocd.domain.decision import Enforcement
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.principal import Principal, Role
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.errors import Forbidden, InvalidInput
from iocd.matching.columns import events_to_batch
from tests.factories import T0

ADMIN = Principal("root", Role.GLOBAL_ADMINISTRATOR, "Cli")
SHA = "a" * 64
OTHER_SHA = "b" * 64


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def iocd(tmp_path: Path, clock: FixedClock) -> Instance:
    return build(Settings(data_dir=tmp_path, database_url="memory://"), clock=clock)


def add(iocd: Instance, kind: str, value: str, action: str = "Block", **extra: Any) -> int:
    extra.setdefault("generate_alert", action != "Allowed")
    override = extra.pop("override", None)
    fields = build_fields(
        indicator_type=kind,
        value=value,
        action=action,
        title=extra.pop("title", f"{action} {value}"),
        description="test",
        **extra,
    )
    result = iocd.indicators.submit(IndicatorDraft(fields, override_justification=override), ADMIN)
    assert result.indicator is not None
    return result.indicator.id


def event(**values: Any) -> TelemetryEvent:
    values.setdefault("time", T0 - timedelta(minutes=5))
    values.setdefault("kind", EventKind.FILE if "sha256" in values else EventKind.NETWORK)
    values.setdefault("device_id", "dev-1")
    values.setdefault("device_name", "laptop-1")
    return TelemetryEvent(**values)


def alerts(iocd: Instance) -> list[Any]:
    return iocd.alerts.list(ADMIN, AlertQuery(top=1000)).items


def test_a_matching_file_raises_one_alert_with_the_indicators_details(iocd: Instance) -> None:
    indicator = add(iocd, "FileSha256", SHA, title="Mimikatz", severity="High")
    report = iocd.detection.scan(events_to_batch([event(sha256=SHA), event(sha256=OTHER_SHA)]))
    assert (report.events, report.matched_events, report.alerts_created) == (2, 1, 1)
    (alert,) = alerts(iocd)
    assert alert.indicator_id == indicator
    assert alert.title == "Mimikatz"
    assert alert.severity.value == "High"
    assert alert.entity == SHA
    assert alert.machine_id == "dev-1"
    assert alert.decision.enforcement is Enforcement.BLOCK


def test_repeats_update_the_alert_and_count_as_sightings(iocd: Instance) -> None:
    indicator = add(iocd, "FileSha256", SHA)
    first = event(sha256=SHA, time=T0 - timedelta(minutes=9))
    iocd.detection.scan(events_to_batch([first]))
    iocd.detection.scan(events_to_batch([event(sha256=SHA), event(sha256=SHA, device_id="d2")]))
    by_device = {a.machine_id: a for a in alerts(iocd)}
    assert set(by_device) == {"dev-1", "d2"}
    assert by_device["dev-1"].occurrences == 2
    seen = iocd.alerts.sightings_for([indicator])[indicator]
    assert (seen.count, seen.device_count) == (3, 2)
    assert seen.first_seen == first.time


def test_network_entities_follow_precedence_allow_first(iocd: Instance) -> None:
    add(iocd, "DomainName", "evil.example", "Block")
    add(iocd, "DomainName", "ok.evil.example", "Allowed")
    report = iocd.detection.scan(
        events_to_batch([event(domain="ok.evil.example"), event(domain="x.evil.example")])
    )
    assert report.matched_events == 2
    (alert,) = alerts(iocd)
    assert alert.entity == "x.evil.example"


def test_audit_alerts_without_enforcing_and_allowed_never_alerts(iocd: Instance) -> None:
    add(iocd, "IpAddress", "203.0.113.0/24", "Audit")
    add(iocd, "IpAddress", "198.51.100.7", "Allowed")
    iocd.detection.scan(
        events_to_batch([event(remote_ip="203.0.113.9"), event(remote_ip="198.51.100.7")])
    )
    (alert,) = alerts(iocd)
    assert alert.entity == "203.0.113.9"
    assert alert.decision.enforcement is Enforcement.NONE


def test_device_group_scope(iocd: Instance) -> None:
    iocd.accounts.create_group("Servers", 1, GroupRules(names=("srv-*",)), ADMIN)
    add(iocd, "FileSha256", SHA, rbac_group_names=["Servers"])
    iocd.detection.scan(
        events_to_batch(
            [
                event(sha256=SHA, device_id="s1", device_name="srv-1"),
                event(sha256=SHA, device_id="l1", device_name="laptop-1"),
            ]
        )
    )
    (alert,) = alerts(iocd)
    assert (alert.machine_id, alert.rbac_group_name) == ("s1", "Servers")


def test_the_index_follows_creates_deletes_and_expiry_at_the_second(
    iocd: Instance, clock: FixedClock
) -> None:
    detection = iocd.detection
    detection.keeper.refresh()
    batch = events_to_batch([event(sha256=SHA)])
    assert detection.scan(batch, record=False).matched_events == 0
    indicator = add(iocd, "FileSha256", SHA, expiration_time=T0 + timedelta(seconds=30))
    detection.keeper.refresh()
    assert detection.scan(batch, record=False).matched_events == 1
    clock.advance(timedelta(seconds=30))
    detection.keeper.refresh()  # no sweeper has run: the index drops it by itself
    assert detection.scan(batch, record=False).matched_events == 0
    again = add(iocd, "FileSha256", SHA)
    detection.keeper.refresh()
    assert detection.scan(batch, record=False).matched_events == 1
    iocd.indicators.delete(again, ADMIN)
    detection.keeper.refresh()
    assert detection.scan(batch, record=False).matched_events == 0
    assert indicator != again


def test_ingest_then_background_step_scans_once(iocd: Instance) -> None:
    add(iocd, "DomainName", "evil.example")
    detection = iocd.detection
    stored = detection.ingest([events_to_batch([event(domain="a.evil.example")])], ADMIN)
    assert stored == 1
    assert detection.backlog() == 1
    first = detection.step()
    # The indicator had never been hunted: the hunt raised it, and the scan did not again.
    assert (first.hunted.alerts_created, first.scanned.alerts_created) == (1, 0)
    assert first.scanned.events == 1
    assert detection.backlog() == 0
    assert detection.step().scanned.events == 0
    assert len(alerts(iocd)) == 1


def test_a_new_indicator_retro_hunts_stored_telemetry_as_historical(
    iocd: Instance, clock: FixedClock
) -> None:
    detection = iocd.detection
    old = event(url="http://evil.example/payload/x.exe", domain="evil.example")
    too_old = event(
        url="http://evil.example/payload/y.exe", domain="evil.example", device_id="d-old"
    )
    too_old = replace(too_old, time=T0 - timedelta(days=40))
    detection.ingest([events_to_batch([old, too_old])], ADMIN)
    detection.step()
    assert alerts(iocd) == []
    indicator = add(iocd, "Url", "http://evil.example/payload/", title="Payload drop")
    step = detection.step()
    assert step.hunted.alerts_created == 1
    (alert,) = alerts(iocd)
    assert alert.historical
    assert alert.indicator_id == indicator
    assert alert.entity == "http://evil.example/payload/x.exe"


def test_retro_hunt_counts_only_the_new_indicator(iocd: Instance) -> None:
    detection = iocd.detection
    first = add(iocd, "FileSha256", SHA)
    detection.ingest([events_to_batch([event(sha256=SHA, sha1="c" * 40)])], ADMIN)
    detection.step()
    second = add(iocd, "FileSha1", "c" * 40, "Audit")
    detection.step()
    sightings = iocd.alerts.sightings_for([first, second])
    assert sightings[first].count == 1
    assert sightings[second].count == 1


def test_a_trusted_signed_file_is_alerted_not_blocked_without_override(iocd: Instance) -> None:
    add(iocd, "FileSha256", SHA)
    signed = event(sha256=SHA, signature_valid=True, signer_trusted=True)
    iocd.detection.scan(events_to_batch([signed]))
    (alert,) = alerts(iocd)
    assert alert.decision.enforcement is Enforcement.NONE
    assert alert.decision.notes


def test_explain_prints_the_trace(iocd: Instance) -> None:
    add(iocd, "DomainName", "evil.example", "Block")
    add(iocd, "DomainName", "a.evil.example", "Warn")
    explained = iocd.detection.explain("laptop-1", {"domain": "x.a.evil.example"}, ADMIN)
    (item,) = explained.items
    assert item.decision.enforcement is Enforcement.WARN
    assert item.decision.rule == "specificity"
    assert [c.indicator.value for c, _ in item.decision.losers] == ["evil.example"]


def test_explain_refuses_bad_values_and_devices_outside_an_analysts_groups(
    iocd: Instance,
) -> None:
    iocd.accounts.create_group("Servers", 1, GroupRules(names=("srv-*",)), ADMIN)
    analyst = Principal("ana", Role.ANALYST, "Cli", device_groups=frozenset({"Servers"}))
    with pytest.raises(InvalidInput):
        iocd.detection.explain("srv-1", {"sha256": "nothex"}, analyst)
    with pytest.raises(InvalidInput):
        iocd.detection.explain("srv-1", {}, analyst)
    with pytest.raises(Forbidden):
        iocd.detection.explain("laptop-1", {"ip": "192.0.2.1"}, analyst)
    assert iocd.detection.explain("srv-1", {"ip": "192.0.2.1"}, analyst).device_group == "Servers"


def test_unscanned_events_older_than_the_look_back_are_still_scanned(iocd: Instance) -> None:
    add(iocd, "FileSha256", SHA)
    old = event(sha256=SHA, time=T0 - timedelta(days=400))
    iocd.detection.ingest([events_to_batch([old])], ADMIN)
    step = iocd.detection.step()  # the hunt's window misses it; the scan must not skip it
    assert (step.hunted.alerts_created, step.scanned.alerts_created) == (0, 1)
    (alert,) = alerts(iocd)
    assert not alert.historical


def test_scan_many_records_each_batch_in_order_as_scan_does(iocd: Instance) -> None:
    indicator = add(iocd, "FileSha256", SHA)
    add(iocd, "DomainName", "evil.example")
    batches = [
        events_to_batch([event(sha256=SHA, time=T0 - timedelta(minutes=9))]),
        events_to_batch([event(sha256=OTHER_SHA)]),
        events_to_batch([event(sha256=SHA), event(domain="a.evil.example", device_id="d2")]),
    ]
    reports = list(iocd.detection.scan_many(iter(batches)))
    assert [(r.events, r.alerts_created, r.alerts_updated) for r in reports] == [
        (1, 1, 0),
        (1, 0, 0),
        (2, 1, 1),  # the first batch's alert was written before the third was deduplicated
    ]
    file_alert = next(a for a in alerts(iocd) if a.indicator_id == indicator)
    assert file_alert.occurrences == 2
    assert iocd.alerts.sightings_for([indicator])[indicator].count == 2


def test_scan_many_raises_a_failed_write_where_its_batch_is_answered(
    iocd: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(iocd, "FileSha256", SHA)

    def refuse(*_: Any) -> Any:
        raise RuntimeError("store down")

    monkeypatch.setattr(iocd.alerts, "record_scan", refuse)
    batches = iter([events_to_batch([event(sha256=SHA)]), events_to_batch([event(sha256=SHA)])])
    with pytest.raises(RuntimeError, match="store down"):
        next(iocd.detection.scan_many(batches))
