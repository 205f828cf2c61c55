"""`StoreTransaction.versions` (the TAXII feed's query) behaves the same on every store."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from iocd.domain.history import Change, ChangeKind
from iocd.domain.query import Compare, In, Op, Sight, Visibility
from iocd.domain.types import Action, IndicatorState
from iocd.domain.versions import VersionQuery
from iocd.services.ports import Store
from tests.factories import T0, make_fields, store_new


def _seed(store: Store) -> None:
    """Indicators 1-4 created at T0 (sequence 1-4); 2 updated to Audit at T0+1s (5); 3
    deleted at T0+2s (6); 4 expired, dated at its expiry T0-1h but recorded last (7); 5 and 6
    created in group Servers at T0+3s (8, 9)."""
    with store.transaction() as tx:
        made = store_new(tx, [make_fields(n) for n in range(1, 5)])
        at = T0 + timedelta(seconds=1)
        updated = replace(
            made[1],
            fields=replace(made[1].fields, action=Action.AUDIT),
            sequence=tx.allocate_sequence(1),
            last_updated_at=at,
        )
        deleted = replace(
            made[2],
            state=IndicatorState.DELETED,
            sequence=tx.allocate_sequence(1),
            last_updated_at=T0 + timedelta(seconds=2),
        )
        expired = replace(made[3], state=IndicatorState.EXPIRED, sequence=tx.allocate_sequence(1))
        tx.update([updated, deleted, expired])
        tx.append_changes(
            [
                Change(5, 2, ChangeKind.UPDATED, at),
                Change(6, 3, ChangeKind.DELETED, T0 + timedelta(seconds=2)),
                Change(7, 4, ChangeKind.EXPIRED, T0 - timedelta(hours=1)),
            ]
        )
        grouped = [make_fields(n, rbac_group_names=("Servers",)) for n in (5, 6)]
        store_new(tx, grouped, at=T0 + timedelta(seconds=3))


def _ids(store: Store, query: VersionQuery) -> list[int]:
    with store.transaction(readonly=True) as tx:
        return [v.indicator.id for v in tx.versions(query)]


def test_latest_version_of_each_in_change_order(store: Store) -> None:
    _seed(store)
    with store.transaction(readonly=True) as tx:
        found = tx.versions(VersionQuery(limit=100))
    assert [v.indicator.id for v in found] == [1, 2, 3, 4, 5, 6]
    assert [v.change.sequence for v in found] == [1, 5, 6, 7, 8, 9]
    assert [v.change.kind for v in found][1:4] == [
        ChangeKind.UPDATED,
        ChangeKind.DELETED,
        ChangeKind.EXPIRED,
    ]
    assert found[1].indicator.fields.action is Action.AUDIT
    assert found[2].indicator.state is IndicatorState.DELETED
    assert found[3].change.at == T0 - timedelta(hours=1)


def test_keyset_limit_and_time_bounds(store: Store) -> None:
    _seed(store)
    assert _ids(store, VersionQuery(after_sequence=5, limit=2)) == [3, 4]
    assert _ids(store, VersionQuery(after_sequence=9)) == []
    after = T0 + timedelta(seconds=1)
    assert _ids(store, VersionQuery(changed_after=after)) == [3, 5, 6]
    late = VersionQuery(changed_after=after, expired_after=T0 - timedelta(hours=2))
    assert _ids(store, late) == [3, 4, 5, 6]


def test_filter_and_sight(store: Store) -> None:
    _seed(store)
    block = Compare("action", Op.EQ, "Block")
    assert _ids(store, VersionQuery(where=block)) == [1, 3, 4, 5, 6]
    assert _ids(store, VersionQuery(where=In("id", (2, 6, 99)))) == [2, 6]
    servers = Sight(Visibility.GROUPS, frozenset({"Servers"}))
    assert _ids(store, VersionQuery(sight=servers)) == [5, 6]
    assert _ids(store, VersionQuery(sight=Sight(Visibility.OWN, owner="bob"))) == []
