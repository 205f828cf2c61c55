"""The narrow read of the outputs (`Store.output_rows`) is the same on every store (memory,
SQLite, PostgreSQL): stored-active and unexpired indicators of the types and actions asked for,
in id order, as the row tuples store.output_rows describes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from iocd.domain.decision import Authority
from iocd.domain.outputs import ACTION_CODES, SEVERITY_CODES, TYPE_CODES
from iocd.domain.types import Action, IndicatorState, IndicatorType, Severity
from iocd.services.ports import Store
from tests.factories import T0, make_fields, store_new

D = IndicatorType.DOMAIN_NAME
B = Action.BLOCK


def _micros(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _rows(
    store: Store, types: list[IndicatorType], actions: list[Action], **options: Any
) -> list[tuple[Any, ...]]:
    now = T0 + timedelta(hours=1)
    wire_types, wire_actions = [t.value for t in types], [a.value for a in actions]
    batches = list(store.output_rows(wire_types, wire_actions, now, **options))
    assert all(batches)
    return [tuple(row) for rows in batches for row in rows]


def test_output_rows_filter_types_actions_state_and_expiry(store: Store) -> None:
    later = T0 + timedelta(minutes=5)
    soon, late = T0 + timedelta(minutes=30), T0 + timedelta(hours=2)
    with store.transaction() as tx:
        made = store_new(
            tx,
            [
                make_fields(1, D, severity=Severity.HIGH),
                make_fields(2, D, rbac_group_names=("Lab", "Servers")),
                make_fields(3, D, action=Action.WARN),
                make_fields(4, IndicatorType.URL),
                make_fields(5, D, expiration_time=soon),
                make_fields(6, D, expiration_time=late),
                make_fields(7, D),
            ],
        )
        tx.allocate_sequence(1)
        tx.update([replace(made[6], state=IndicatorState.DELETED, sequence=8)])
        tx.allocate_sequence(1)
        moved = replace(made[1], authority=Authority.GROUP, last_updated_at=later, sequence=9)
        tx.update([moved])
    rows = _rows(store, [D], [B])
    assert [r[0] for r in rows] == [made[0].id, made[1].id, made[5].id]
    assert rows[0] == (
        made[0].id,
        TYPE_CODES.index(D),
        made[0].fields.value,
        ACTION_CODES.index(B),
        SEVERITY_CODES.index(Severity.HIGH),
        "",
        0,
        0,
        "",
        int(Authority.ORGANISATION),
    )
    assert sorted(rows[1][8].split("|")) == ["Lab", "Servers"]
    assert rows[1][9] == int(Authority.GROUP)
    assert rows[1][4] == SEVERITY_CODES.index(Severity.MEDIUM)
    both = _rows(store, [D, IndicatorType.URL], [B, Action.WARN], titles=True, details=True)
    assert [r[0] for r in both] == [made[n].id for n in (0, 1, 2, 3, 5)]
    assert both[0][5:8] == ("indicator 1", _micros(T0), made[0].sequence)
    assert both[1][6:8] == (_micros(later), 9)
    assert both[2][3] == ACTION_CODES.index(Action.WARN)
    assert both[3][1] == TYPE_CODES.index(IndicatorType.URL)
    assert _rows(store, [IndicatorType.FILE_MD5], [B]) == []


def test_output_rows_come_in_batches_in_id_order(store: Store) -> None:
    with store.transaction() as tx:
        made = store_new(tx, [make_fields(n, IndicatorType.FILE_SHA256) for n in range(1, 8)])
    batches = list(store.output_rows([IndicatorType.FILE_SHA256.value], [B.value], T0, batch=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [row[0] for b in batches for row in b] == [m.id for m in made]
    assert list(store.output_rows([], [B.value], T0)) == []
