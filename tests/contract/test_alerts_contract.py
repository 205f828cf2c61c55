"""Every AlertsTransaction method behaves the same on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from iocd.domain.alert_repeats import AlertRepeats, repeats_of, with_repeats
from iocd.domain.alert_sources import AlertSource, source_of
from iocd.domain.alerts import (
    Alert,
    AlertClassification,
    AlertComment,
    AlertDetermination,
    AlertQuery,
    AlertStatus,
    Evidence,
)
from iocd.domain.decision import NO_MATCH, Decision, Enforcement
from iocd.domain.detection_columns import AlertFacts
from iocd.domain.devices import Device, Sighting, SightingColumns, Sightings
from iocd.domain.instants import micros
from iocd.domain.new_alerts import NewAlerts
from iocd.domain.query import AnyEq, Compare, In, Not, Op, Sight, Visibility
from iocd.domain.types import IndicatorState, Severity
from iocd.services.ports import Store
from tests.alert_factories import SHA, make_alert, make_detection
from tests.factories import T0, make_audit, make_fields, store_new

H = timedelta(hours=1)
VERDICT_DECISION = Decision(Enforcement.BLOCK, True, None, "external verdict: test", notes=("n",))


def full_alert(alert_id: int) -> Alert:
    plus2 = timezone(timedelta(hours=2))
    return make_alert(
        alert_id,
        indicator_id=77,
        title="Ünïcødé ✓ '; DROP TABLE alerts; --",
        status=AlertStatus.RESOLVED,
        classification=AlertClassification.TRUE_POSITIVE,
        determination=AlertDetermination.MALWARE,
        assigned_to="bob@example.com",
        threat_name="Emotet",
        recommended_actions="Isolate the host",
        mitre_techniques=("T1059", "T1566.001"),
        resolved_at=datetime(2030, 1, 2, 3, 4, 5, 6, tzinfo=plus2),
        last_event_time=T0 + H,
        historical=True,
        occurrences=12,
        evidence=(
            Evidence("File", T0, T0 + H, sha256=SHA, file_name="ä.exe", file_path="C:\\ä"),
            Evidence("Ip", T0, T0, ip_address="2001:db8::1", port=443),
            Evidence("Domain", T0, T0, domain_name="xn--e1afmkfd.example"),
            Evidence("Url", T0, T0, url="https://bad.example/a?b=1"),
        ),
        comments=(
            AlertComment("first look ✓", "alice", T0 + H),
            AlertComment("confirmed", "bob", T0 + 2 * H),
        ),
        decision=NO_MATCH,
        indicator_created_by="app-1",
    )


def test_insert_get_round_trip_every_field(store: Store) -> None:
    full, plain = full_alert(1), make_alert(2, category=None, mitre_techniques=())
    with store.alerts() as tx:
        assert tx.allocate_ids(2) == 1
        tx.insert([full, plain])
    with store.alerts(readonly=True) as tx:
        assert tx.get(1) == full
        assert tx.get(2) == plain
        assert tx.get(3) is None


def test_ids_are_never_reused_and_rollback_stores_nothing(store: Store) -> None:
    with store.alerts() as tx:
        first = tx.allocate_ids(3)
        tx.insert([make_alert(first)])

    def fail() -> None:
        with store.alerts() as tx:
            tx.insert([make_alert(tx.allocate_ids(1))])
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    with store.alerts() as tx:
        assert tx.allocate_ids(1) == first + 3
        assert tx.count(AlertQuery()) == 1


def test_insert_of_an_existing_id_and_update_of_a_missing_one_fail(store: Store) -> None:
    with store.alerts() as tx:
        tx.insert([make_alert(1)])
    with pytest.raises(ValueError, match=r"conflicts|exists"), store.alerts() as tx:
        tx.insert([make_alert(1)])
    with pytest.raises(ValueError, match="does not exist"), store.alerts() as tx:
        tx.update([make_alert(9)])


def test_update_replaces_the_stored_version(store: Store) -> None:
    with store.alerts() as tx:
        tx.insert([make_alert(1), make_alert(2)])
    changed = replace(
        make_alert(1),
        status=AlertStatus.IN_PROGRESS,
        occurrences=3,
        last_event_time=T0 + H,
        comments=(AlertComment("x", "bob", T0),),
    )
    with store.alerts() as tx:
        tx.update([changed])
    with store.alerts(readonly=True) as tx:
        assert tx.get(1) == changed
        assert tx.get(2) == make_alert(2)


def test_open_duplicates_by_key_within_the_window(store: Store) -> None:
    with store.alerts() as tx:
        tx.insert(
            [
                make_alert(1),  # dev-1, open, last event T0
                make_alert(2, status=AlertStatus.RESOLVED, last_event_time=T0 + H),
                make_alert(3, machine_id="dev-2", last_event_time=T0 - 5 * H),
                make_alert(4, entity="cd" * 32, status=AlertStatus.IN_PROGRESS),
                make_alert(5, last_event_time=T0 + H),  # newer open one of dev-1's key
            ]
        )
    keys = [(1, "dev-1", SHA), (1, "dev-2", SHA), (1, "dev-1", "cd" * 32), (2, "dev-1", SHA)]
    with store.alerts(readonly=True) as tx:
        found = tx.open_alerts(keys, T0 - H)
        assert {key: r.alert_id for key, r in found.items()} == {keys[0]: 5, keys[2]: 4}
        assert found[keys[0]] == repeats_of(make_alert(5, last_event_time=T0 + H))
        assert tx.open_alerts(keys[:1], T0 + 2 * H) == {}
        assert tx.open_alerts([], T0) == {}


def test_record_repeats_writes_only_what_repeats_change(store: Store) -> None:
    stored = full_alert(1)
    bare = make_alert(2, evidence=())
    with store.alerts() as tx:
        tx.insert([replace(stored, status=AlertStatus.NEW), bare])
    keys = [stored.key, (bare.indicator_id, bare.machine_id, bare.entity)]
    with store.alerts() as tx:
        found = tx.open_alerts(keys, T0 - 9 * H)
        assert set(found) == set(keys)
        moved, unmoved = found[keys[0]], found[keys[1]]
        assert (unmoved.evidence_micros, unmoved.evidence_seen_micros) == (None, None)
        moved.repeat(micros(T0 + 3 * H), True, VERDICT_DECISION)
        moved.repeat(micros(T0 - H), False, NO_MATCH)
        unmoved.repeat(micros(T0 - 2 * H), True, NO_MATCH)
        tx.record_repeats([moved, unmoved], T0 + 5 * H)
        with pytest.raises(ValueError, match="does not exist"):
            tx.record_repeats([replace(moved, alert_id=99)], T0)
    with store.alerts(readonly=True) as tx:
        first, second = tx.get(1), tx.get(2)
    expected = with_repeats(replace(stored, status=AlertStatus.NEW), moved, T0 + 5 * H)
    assert first == expected
    assert first.occurrences == 14 and first.decision == VERDICT_DECISION
    assert (first.first_event_time, first.last_event_time) == (T0 - H, T0 + 3 * H)
    assert (first.evidence[0].time, first.evidence[0].last_seen) == (T0 - H, T0 + 3 * H)
    assert first.evidence[1:] == stored.evidence[1:] and first.comments == stored.comments
    assert not first.historical
    assert second == replace(
        bare, first_event_time=T0 - 2 * H, occurrences=2, last_updated_at=T0 + 5 * H
    )


def _ids(store: Store, query: AlertQuery) -> list[int]:
    with store.alerts(readonly=True) as tx:
        return [a.id for a in tx.list(query)]


def test_list_filters_orders_pages_and_counts(store: Store) -> None:
    with store.alerts() as tx:
        tx.insert(
            [
                make_alert(1, severity=Severity.LOW, last_event_time=T0 + 3 * H),
                make_alert(2, status=AlertStatus.RESOLVED, machine_id="dev-2"),
                make_alert(3, historical=True, mitre_techniques=("T1059",), last_event_time=T0),
                make_alert(4, classification=AlertClassification.FALSE_POSITIVE, indicator_id=2),
                make_alert(5, last_event_time=T0 + H, category=None),
            ]
        )
    assert _ids(store, AlertQuery()) == [1, 2, 3, 4, 5]
    assert _ids(store, AlertQuery(where=Compare("status", Op.NE, "Resolved"))) == [1, 3, 4, 5]
    assert _ids(store, AlertQuery(where=In("severity", ("Low", "Medium")))) == [1]
    assert _ids(store, AlertQuery(where=Compare("machineId", Op.EQ, "dev-2"))) == [2]
    assert _ids(store, AlertQuery(where=Compare("historical", Op.EQ, True))) == [3]
    assert _ids(store, AlertQuery(where=AnyEq("mitreTechniques", "T1059"))) == [3]
    assert _ids(store, AlertQuery(where=Compare("classification", Op.EQ, None))) == [1, 2, 3, 5]
    assert _ids(store, AlertQuery(where=Compare("indicatorId", Op.EQ, 2))) == [4]
    assert _ids(store, AlertQuery(where=Not(Compare("category", Op.EQ, "Malware")))) == [5]
    after = Compare("lastEventTime", Op.GT, T0)
    assert _ids(store, AlertQuery(where=after)) == [1, 5]
    newest_first = AlertQuery(order_by=(("lastEventTime", True),))
    assert _ids(store, newest_first) == [1, 5, 2, 3, 4]
    assert _ids(store, replace(newest_first, skip=1, top=2)) == [5, 2]
    assert _ids(store, AlertQuery(after_id=3, top=1)) == [4]
    with store.alerts(readonly=True) as tx:
        assert tx.count(AlertQuery(where=Compare("status", Op.EQ, "New"), top=1)) == 4


def test_list_and_count_honour_the_sight(store: Store) -> None:
    with store.alerts() as tx:
        tx.insert(
            [
                make_alert(1),
                make_alert(2, rbac_group_name="Laptops"),
                make_alert(3, rbac_group_name="Laptops", indicator_created_by="app-9"),
            ]
        )
    laptops = AlertQuery(sight=Sight(Visibility.GROUPS, groups=frozenset({"Laptops"})))
    assert _ids(store, laptops) == [2, 3]
    nothing = AlertQuery(sight=Sight(Visibility.GROUPS))
    assert _ids(store, nothing) == []
    own = AlertQuery(sight=Sight(Visibility.OWN, owner="app-9"))
    assert _ids(store, own) == [3]
    with store.alerts(readonly=True) as tx:
        assert tx.count(laptops) == 2


def test_sightings_add_up_and_count_each_device_once(store: Store) -> None:
    with store.alerts() as tx:
        tx.record_sightings(
            SightingColumns.of(
                [
                    Sighting(1, "dev-1", T0, T0 + H, 3),
                    Sighting(1, "dev-1", T0 - H, T0, 1),  # the same pair twice in one batch
                    Sighting(1, "dev-2", T0, T0),
                    Sighting(2, "dev-1", T0 + H, T0 + H),
                ]
            )
        )
    with store.alerts() as tx:
        tx.record_sightings(SightingColumns.of([Sighting(1, "dev-2", T0 + 5 * H, T0 + 6 * H, 2)]))
        quoted = Sighting(1, 'dév-3 "q"', T0 - 2 * H, T0 - 2 * H)  # JSON-quoted
        tx.record_sightings(SightingColumns.of([quoted]))
        tx.record_sightings(SightingColumns.of([]))
    with store.alerts(readonly=True) as tx:
        found = tx.sightings([1, 2, 3])
    assert found == {
        1: Sightings(1, 8, 3, T0 - 2 * H, T0 + 6 * H),
        2: Sightings(2, 1, 1, T0 + H, T0 + H),
    }


def test_devices_upsert_widens_and_keeps_known_fields(store: Store) -> None:
    with store.alerts() as tx:
        tx.upsert_devices(
            [
                Device("b", T0, T0, "b.example", "Servers", "Windows 11"),
                Device("a", T0, T0 + H, "a.example"),
                Device("a", T0 - H, T0, None, "Laptops"),  # the same device twice in one batch
            ]
        )
    with store.alerts() as tx:
        tx.upsert_devices([Device("b", T0 + H, T0 + 2 * H, None, None, "Windows 11 24H2")])
    with store.alerts(readonly=True) as tx:
        assert tx.get_device("a") == Device("a", T0 - H, T0 + H, "a.example", "Laptops")
        assert tx.get_device("b") == Device(
            "b", T0, T0 + 2 * H, "b.example", "Servers", "Windows 11 24H2"
        )
        assert tx.get_device("c") is None
        assert [d.device_id for d in tx.list_devices(10)] == ["a", "b"]
        assert [d.device_id for d in tx.list_devices(10, after="a")] == ["b"]
        assert tx.list_devices(1) == [tx.get_device("a")]


def test_audit_written_through_alerts_is_the_shared_log(store: Store) -> None:
    with store.alerts() as tx:
        tx.append_audit([make_audit(None, action="alert-updated", changes={"alertId": "1"})])
    with store.accounts(readonly=True) as accounts:
        entries = accounts.recent_audit(5)
    assert [(e.action, e.changes) for e in entries] == [("alert-updated", {"alertId": "1"})]


def test_datetimes_come_back_in_utc(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    local = datetime(2030, 1, 1, 14, 0, tzinfo=plus2)
    with store.alerts() as tx:
        tx.insert([make_alert(1, first_event_time=local)])
    with store.alerts(readonly=True) as tx:
        stored = tx.get(1)
    assert stored is not None and stored.first_event_time == datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_alert_sources_are_what_alerts_copy_from_indicators(store: Store) -> None:
    fields = [
        make_fields(1, category="Malware", mitre_techniques=("T1059", "T1566.001")),
        make_fields(2, recommended_actions="Isolate", severity=Severity.HIGH, title="Ünï ✓"),
    ]
    with store.transaction() as tx:
        made = store_new(tx, fields, created_by="app-7", state=IndicatorState.DELETED)
    with store.alerts(readonly=True) as tx:
        found = tx.alert_sources([made[1].id, made[0].id, 999])
        assert tx.alert_sources([]) == {}
    assert found == {i.id: source_of(i) for i in made}
    assert found[made[0].id].mitre_techniques == ("T1059", "T1566.001")
    assert found[made[1].id].created_by == "app-7"


def test_new_alerts_written_from_their_parts_read_back_as_their_alerts(store: Store) -> None:
    detection = make_detection(7, "dev-9", T0 + H)
    facts = [AlertFacts.of(detection), replace(AlertFacts.of(detection), device_group=None)]
    source = AlertSource(
        7, "Tïtle ✓", "why", Severity.LOW, None, ("T1204",), "isolate", "app:feeds"
    )
    tallies = [
        AlertRepeats.first((7, "dev-9", SHA), micros(T0), True, detection.decision),
        AlertRepeats.first((7, "dev-8", SHA), micros(T0 - H), False, detection.decision),
    ]
    tallies[0].fold(micros(T0 - H), micros(T0 + 2 * H), 4, True, VERDICT_DECISION)
    new = NewAlerts([11, 12], facts, [source, source], tallies, T0 + 3 * H)
    with store.alerts() as tx:
        tx.insert_new(new)
        with pytest.raises(ValueError, match=r"conflicts|exists"):
            tx.insert_new(new)
    with store.alerts(readonly=True) as tx:
        stored = [tx.get(11), tx.get(12)]
    assert stored == new.alerts()
    assert stored[0] is not None and stored[0].occurrences == 5
    assert stored[0].decision == VERDICT_DECISION
    assert stored[1] is not None and stored[1].rbac_group_name == "Ungrouped devices"
