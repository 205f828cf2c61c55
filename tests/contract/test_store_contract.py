"""Every StoreTransaction method behaves the same on every store (memory, SQLite, PostgreSQL).

Filtering, ordering and paging of list/count live in test_store_queries.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from iocd.domain.decision import Authority
from iocd.domain.history import Change, ChangeKind
from iocd.domain.indicator import Indicator
from iocd.domain.query import Compare, IndicatorQuery, Op, Sight, Visibility
from iocd.domain.types import Action, IndicatorState, IndicatorType, Severity
from iocd.services.ports import Store, StoreTransaction
from tests.factories import T0, make_audit, make_fields, make_indicator, store_new

ACTIVE, DELETED, EXPIRED = IndicatorState.ACTIVE, IndicatorState.DELETED, IndicatorState.EXPIRED


class Boom(Exception):
    """Raised inside a transaction to make it roll back."""


def rolled_back(store: Store, work: Callable[[StoreTransaction], None]) -> None:
    """Run `work` in a transaction that then fails; the failure must reach the caller."""

    def fail() -> None:
        with store.transaction() as tx:
            work(tx)
            raise Boom

    with pytest.raises(Boom):
        fail()


def full_indicator(indicator_id: int) -> Indicator:
    """An indicator with every field set, unicode text and non-UTC aware datetimes."""
    plus2 = timezone(timedelta(hours=2))
    fields = make_fields(
        indicator_id,
        IndicatorType.URL,
        value="https://例え.テスト/päth?q=1|2",
        raw_value="HTTPS://例え.テスト/päth?q=1|2 ",
        action=Action.WARN,
        title="Ünïcødé title ✓ '; DROP TABLE indicators; --",
        description="line one\nline two\ttabbed — 🚫",
        severity=Severity.HIGH,
        generate_alert=True,
        expiration_time=datetime(2031, 2, 3, 4, 5, 6, 789012, tzinfo=plus2),
        recommended_actions="Isolate the host",
        application="Ëdge",
        educate_url="https://learn.example/why",
        external_id="ext-ü-1",
        category="CommandAndControl",
        mitre_techniques=("T1059", "T1566.001"),
        rbac_group_names=("Berlin", "Paris Ops", "東京"),
    )
    return make_indicator(
        indicator_id,
        fields,
        sequence=7,
        created_by="app-1234",
        created_by_display_name="Sync tool ✓",
        created_by_source="Feed:abuse.ch",
        source_type="AadApp",
        at=datetime(2030, 1, 1, 10, 0, 0, 1, tzinfo=UTC),
        last_updated_at=datetime(2030, 1, 2, 0, 0, 0, 999999, tzinfo=plus2),
        last_updated_by="bob",
        override_justification="known false positive ✓",
        state_changed_at=datetime(2030, 1, 3, tzinfo=UTC),
        authority=Authority.GROUP,
    )


def minimal_indicator(indicator_id: int) -> Indicator:
    """Every optional field absent; empty strings where the field is text but given empty."""
    fields = make_fields(indicator_id, title="", description="", raw_value="")
    return make_indicator(indicator_id, fields, created_by="", created_by_display_name="")


def test_insert_get_round_trip_every_field(store: Store) -> None:
    full, minimal = full_indicator(1), minimal_indicator(2)
    empty_text = replace(minimal, id=3, fields=replace(minimal.fields, value="v3", category=""))
    empty_text = replace(empty_text, fields=replace(empty_text.fields, recommended_actions=""))
    with store.transaction() as tx:
        tx.insert([full, minimal, empty_text])
    with store.transaction() as tx:
        got = [tx.get(1), tx.get(2), tx.get(3), tx.get(4)]
    assert got == [full, minimal, empty_text, None]
    assert got[0] is not None
    assert got[1] is not None
    assert got[2] is not None
    assert got[0].fields.expiration_time == datetime(2031, 2, 3, 2, 5, 6, 789012, tzinfo=UTC)
    assert got[0].fields.expiration_time.utcoffset() == timedelta(0) or store_is_memory(store)
    assert got[1].fields.recommended_actions is None
    assert got[2].fields.recommended_actions == ""
    assert got[2].fields.category == ""
    assert got[1].fields.mitre_techniques == ()
    assert got[1].fields.rbac_group_names == ()
    assert isinstance(got[0].fields.indicator_type, IndicatorType)
    assert got[0].fields.generate_alert is True
    assert got[1].fields.generate_alert is False


def store_is_memory(store: Store) -> bool:
    return type(store).__name__ == "MemoryStore"


def test_insert_existing_id_fails_and_update_missing_id_fails(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert([make_indicator(1)])
    with pytest.raises(ValueError, match=r"insert|exists"), store.transaction() as tx:
        tx.insert([make_indicator(1, make_fields(99))])
    with pytest.raises(ValueError, match="5"), store.transaction() as tx:
        tx.update([make_indicator(5)])
    with store.transaction() as tx:
        assert tx.get(1) == make_indicator(1)
        assert tx.get(5) is None


def test_update_replaces_every_field_and_groups(store: Store) -> None:
    with store.transaction() as tx:
        tx.insert([make_indicator(1, make_fields(1, rbac_group_names=("A", "B")))])
    changed = replace(full_indicator(1), sequence=2)
    with store.transaction() as tx:
        tx.update([changed])
    with store.transaction() as tx:
        assert tx.get(1) == changed
        sight = Sight(Visibility.GROUPS, groups=frozenset({"B"}))
        only_b = IndicatorQuery(include_inactive=True, sight=sight)
        assert tx.list(only_b, T0) == []
    back = replace(changed, fields=replace(changed.fields, rbac_group_names=()))
    with store.transaction() as tx:
        tx.update([changed, back])  # the last version of a repeated id wins
        assert tx.get(1) == back


def test_find_by_identity_sees_stored_active_only(store: Store) -> None:
    ip = make_fields(1)
    scoped = replace(ip, rbac_group_names=("Berlin",))
    stale = make_fields(2, expiration_time=T0 - timedelta(days=1))
    gone = make_fields(3)
    with store.transaction() as tx:
        a, b, c = store_new(tx, [ip, scoped, stale])
        (_d,) = store_new(tx, [gone], state=DELETED)
    with store.transaction() as tx:
        found = tx.find_by_identity(
            [ip.identity, scoped.identity, stale.identity, gone.identity, make_fields(9).identity]
        )
        assert found == {ip.identity: a, scoped.identity: b, stale.identity: c}
        assert tx.find_by_identity([]) == {}
        assert tx.find_by_identity([(IndicatorType.DOMAIN_NAME, ip.value, "")]) == {}
        tx.update([replace(a, state=DELETED)])
        assert tx.find_by_identity([ip.identity]) == {}
        (again,) = store_new(tx, [ip])
        assert tx.find_by_identity([ip.identity]) == {ip.identity: again}


def test_find_by_identity_many_keys(store: Store) -> None:
    fields = [make_fields(n, IndicatorType.FILE_SHA256) for n in range(1, 1201)]
    fields += [make_fields(n, IndicatorType.DOMAIN_NAME) for n in range(1, 301)]
    with store.transaction() as tx:
        made = store_new(tx, fields)
    with store.transaction() as tx:
        found = tx.find_by_identity([f.identity for f in fields[::2]])
    assert found == {i.fields.identity: i for i in made[::2]}


def test_find_by_external_id(store: Store) -> None:
    with store.transaction() as tx:
        (a,) = store_new(tx, [make_fields(1, external_id="x-1")])
        (b,) = store_new(tx, [make_fields(2, external_id="x-2")], created_by="bob")
        store_new(tx, [make_fields(3, external_id="x-3")], state=DELETED)
        store_new(tx, [make_fields(4)])
    with store.transaction() as tx:
        assert tx.find_by_external_id("alice", ["x-1", "x-2", "x-3", "nope"]) == {"x-1": a}
        assert tx.find_by_external_id("bob", ["x-1", "x-2"]) == {"x-2": b}
        assert tx.find_by_external_id("alice", []) == {}


def test_allocation_is_contiguous_and_rollback_gives_values_back(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.allocate_ids(3) == 1
        assert tx.allocate_ids(2) == 4
        assert tx.allocate_sequence(1) == 1
        assert tx.allocate_sequence(5) == 2
        assert tx.last_sequence() == 6

    def allocate(tx: StoreTransaction) -> None:
        assert tx.allocate_ids(10) == 6
        assert tx.allocate_sequence(10) == 7

    rolled_back(store, allocate)
    with store.transaction() as tx:
        assert tx.last_sequence() == 6
        assert tx.allocate_ids(1) == 6
        assert tx.allocate_sequence(1) == 7


def test_rollback_leaves_nothing_written(store: Store) -> None:
    def write(tx: StoreTransaction) -> None:
        store_new(tx, [make_fields(1, rbac_group_names=("G",)), make_fields(2)])
        assert tx.active_count() == 2

    rolled_back(store, write)
    with store.transaction() as tx:
        assert tx.get(1) is None
        assert tx.get(2) is None
        assert tx.active_count() == 0
        assert tx.last_sequence() == 0
        assert tx.changes_since(0, 100) == []
        assert tx.audit_for(1) == []
        assert tx.list(IndicatorQuery(include_inactive=True), T0) == []
        (made,) = store_new(tx, [make_fields(1)])
    assert (made.id, made.sequence) == (1, 1)


def test_active_count_follows_state_changes(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.active_count() == 0
        a, b, c = store_new(tx, [make_fields(1), make_fields(2), make_fields(3)])
        store_new(tx, [make_fields(4)], state=EXPIRED)
        assert tx.active_count() == 3
        touched = replace(c, last_updated_by="x")
        tx.update([replace(a, state=DELETED), replace(b, state=EXPIRED), touched])
        assert tx.active_count() == 1
    with store.transaction() as tx:
        assert tx.active_count() == 1
        tx.update([replace(a, state=ACTIVE), replace(a, state=ACTIVE)])
        assert tx.active_count() == 2
        tx.update([replace(c, state=ACTIVE)])  # active to active changes nothing
        assert tx.active_count() == 2


def test_due_for_expiry_oldest_first(store: Store) -> None:
    expiries = [T0 + timedelta(hours=1), T0 - timedelta(hours=1), T0, None, T0 - timedelta(days=3)]
    with store.transaction() as tx:
        made = store_new(tx, [make_fields(n, expiration_time=e) for n, e in enumerate(expiries)])
        store_new(tx, [make_fields(9, expiration_time=T0 - timedelta(days=9))], state=DELETED)
        (late_tie,) = store_new(tx, [make_fields(10, expiration_time=T0 - timedelta(hours=1))])
    with store.transaction() as tx:
        due = tx.due_for_expiry(T0, 100)
        assert due == [made[4], made[1], late_tie, made[2]]
        assert tx.due_for_expiry(T0, 2) == [made[4], made[1]]
        assert tx.due_for_expiry(T0 - timedelta(days=10), 10) == []


def test_audit_for_in_order_with_json_changes(store: Store) -> None:
    changes = {"title": ["old ✓", "new — ü"], "rbacGroupNames": [[], ["A", "東京"]], "n": [1, None]}
    entries = [
        make_audit(1, action="create", sequence=1, changes=changes),
        make_audit(2, action="create", sequence=2),
        make_audit(1, action="update", sequence=3, justification="because ✓", door="Portal"),
        make_audit(None, action="denied", changes={}, actor="mallory"),
        make_audit(1, action="delete", sequence=None, at=T0 + timedelta(microseconds=1)),
    ]
    with store.transaction() as tx:
        tx.append_audit(entries[:2])
    with store.transaction() as tx:
        tx.append_audit(entries[2:])
    with store.transaction() as tx:
        got = tx.audit_for(1)
        assert tx.audit_for(404) == []
    expected = [replace(e, id=n) for n, e in ((1, entries[0]), (3, entries[2]), (5, entries[4]))]
    assert got == expected


def test_changes_since_and_last_sequence(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.last_sequence() == 0
        assert tx.changes_since(0, 10) == []
        made = store_new(tx, [make_fields(n) for n in range(1, 6)])
        first = tx.allocate_sequence(1)
        tx.update([replace(made[0], state=DELETED, sequence=first)])
        tx.append_changes([Change(first, made[0].id, ChangeKind.DELETED, T0)])
    with store.transaction() as tx:
        assert tx.last_sequence() == 6
        everything = tx.changes_since(0, 100)
        assert [c.sequence for c in everything] == [1, 2, 3, 4, 5, 6]
        assert everything[0] == Change(1, 1, ChangeKind.CREATED, T0)
        assert everything[-1] == Change(6, 1, ChangeKind.DELETED, T0)
        assert isinstance(everything[-1].kind, ChangeKind)
        assert [c.sequence for c in tx.changes_since(2, 2)] == [3, 4]
        assert tx.changes_since(6, 10) == []


def test_iterate_streams_matching_rows_in_id_order(store: Store) -> None:
    fields = [make_fields(n, severity=Severity.HIGH if n % 3 else Severity.LOW) for n in range(25)]
    with store.transaction() as tx:
        made = store_new(tx, fields)
        tx.update([replace(made[4], state=DELETED)])
    query = IndicatorQuery(
        where=Compare("severity", Op.EQ, "High"), order_by=(("title", True),), skip=3, top=1
    )
    expected = [i.id for i in made if i.fields.severity is Severity.HIGH and i.id != 5]
    for batch in (1, 4, 5, 1000):
        assert [i.id for i in store.iterate(query, T0, batch=batch)] == expected
    everything = replace(query, where=None, include_inactive=True)
    assert list(store.iterate(everything, T0, batch=7)) == [
        replace(i, state=DELETED) if i.id == 5 else i for i in made
    ]
    assert list(store.iterate(IndicatorQuery(where=Compare("id", Op.GT, 99)), T0)) == []


def test_writers_are_serialised_and_sequence_gap_free(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for n in range(5):
                with store.transaction() as tx:
                    store_new(tx, [make_fields(worker * 100 + n)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.transaction() as tx:
        assert [c.sequence for c in tx.changes_since(0, 100)] == list(range(1, 21))
        assert tx.active_count() == 20
        assert tx.count(IndicatorQuery(), T0) == 20
