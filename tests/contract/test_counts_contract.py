"""Grouped counts (the dashboard's) agree on every store: memory, SQLite, PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from iocd.domain.alerts import AlertQuery, AlertStatus
from iocd.domain.query import Compare, IndicatorQuery, Op, Sight, Visibility
from iocd.domain.types import Action, IndicatorState, IndicatorType, Severity
from iocd.errors import InvalidInput
from iocd.services.ports import Store
from tests.alert_factories import make_alert
from tests.factories import T0, make_fields, store_new

DAY = timedelta(days=1)


def _seed_indicators(store: Store) -> None:
    ip, sha = IndicatorType.IP_ADDRESS, IndicatorType.FILE_SHA256
    with store.transaction() as tx:
        store_new(
            tx,
            [
                make_fields(1, ip),
                make_fields(2, ip),
                make_fields(3, ip, action=Action.AUDIT, generate_alert=True),
                make_fields(4, sha, action=Action.ALLOWED, rbac_group_names=("Servers",)),
                make_fields(5, sha, expiration_time=T0 - DAY),  # expired: not counted
                make_fields(6, sha, rbac_group_names=("Laptops",)),
            ],
        )
        store_new(tx, [make_fields(7, ip)], state=IndicatorState.DELETED)


def test_indicator_counts_by_type_and_action(store: Store) -> None:
    _seed_indicators(store)
    with store.transaction(readonly=True) as tx:
        counts = tx.count_by(IndicatorQuery(), T0, ("indicatorType", "action"))
        groups = Sight(Visibility.GROUPS, groups=frozenset({"Servers"}))
        scoped = tx.count_by(IndicatorQuery(sight=groups), T0, ("indicatorType", "action"))
        by_action = tx.count_by(
            IndicatorQuery(where=Compare("indicatorType", Op.EQ, "IpAddress")), T0, ("action",)
        )
        empty = tx.count_by(IndicatorQuery(sight=Sight(Visibility.OWN, owner="x")), T0, ("action",))
    assert counts == {
        ("IpAddress", "Block"): 2,
        ("IpAddress", "Audit"): 1,
        ("FileSha256", "Allowed"): 1,
        ("FileSha256", "Block"): 1,
    }
    assert scoped == {("FileSha256", "Allowed"): 1}
    assert by_action == {("Block",): 2, ("Audit",): 1}
    assert empty == {}


def test_counts_group_by_text_fields_only(store: Store, store_kind: str) -> None:
    if store_kind == "memory":
        pytest.skip("the memory store groups any field; SQL refuses non-text ones")
    with store.transaction(readonly=True) as tx, pytest.raises(InvalidInput):
        tx.count_by(IndicatorQuery(), T0, ("expirationTime",))


def _seed_alerts(store: Store) -> None:
    alerts = [
        make_alert(1, created_at=T0),
        make_alert(2, created_at=T0 + timedelta(hours=23, minutes=59)),
        make_alert(3, created_at=T0 + DAY, status=AlertStatus.RESOLVED),
        make_alert(4, created_at=T0 + 3 * DAY, severity=Severity.LOW, rbac_group_name="Laptops"),
        make_alert(5, created_at=T0 - timedelta(microseconds=1)),  # before the window
        make_alert(6, created_at=T0 + 14 * DAY),  # after it
    ]
    with store.alerts() as tx:
        tx.insert(alerts)


def test_alert_counts_per_day(store: Store) -> None:
    _seed_alerts(store)
    with store.alerts(readonly=True) as tx:
        days = tx.count_per_day(AlertQuery(), T0, 14)
        scoped = tx.count_per_day(
            AlertQuery(sight=Sight(Visibility.GROUPS, groups=frozenset({"Laptops"}))), T0, 14
        )
        none = tx.count_per_day(AlertQuery(), T0, 0)
    assert days == [2, 1, 0, 1] + [0] * 10
    assert scoped == [0, 0, 0, 1] + [0] * 10
    assert none == []


def test_alert_counts_by_status_and_severity(store: Store) -> None:
    _seed_alerts(store)
    with store.alerts(readonly=True) as tx:
        counts = tx.count_by(AlertQuery(), ("status", "severity"))
        own = tx.count_by(AlertQuery(sight=Sight(Visibility.OWN, owner="bob")), ("status",))
    assert counts == {("New", "High"): 4, ("Resolved", "High"): 1, ("New", "Low"): 1}
    assert own == {}
