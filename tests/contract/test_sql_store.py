"""What only the SQL stores promise: bulk statements, bounded iteration, read-only transactions,
and the identity rule enforced by the database itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, event

from iocd.domain.history import Change, ChangeKind
from iocd.domain.query import IndicatorQuery
from iocd.domain.types import IndicatorState
from iocd.store.sql import SqlStore
from tests.factories import T0, make_audit, make_fields, make_indicator, store_new

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def sql_store(request: pytest.FixtureRequest) -> SqlStore:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return SqlStore(engine)


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement sent to the driver while the block runs (executemany counts once)."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("rows", [10, 1200])
def test_writes_are_bulk(sql_store: SqlStore, rows: int) -> None:
    """The number of statements of a batch does not grow with its size."""
    made = [
        make_indicator(n, make_fields(n, rbac_group_names=("A", "B")), sequence=n)
        for n in range(1, rows + 1)
    ]
    with statements(sql_store.engine) as seen, sql_store.transaction() as tx:
        tx.allocate_ids(rows)
        tx.allocate_sequence(rows)
        tx.insert(made)
        tx.append_changes([Change(i.sequence, i.id, ChangeKind.CREATED, T0) for i in made])
        tx.append_audit([make_audit(i.id) for i in made])
        tx.update([replace(i, state=IndicatorState.DELETED) for i in made])
        assert tx.active_count() == 0
    writes = [s for s, _ in seen if not s.lstrip().upper().startswith(("SELECT", "BEGIN"))]
    assert len(writes) <= 11, writes
    assert len(seen) <= 12 + 2 * (rows // 500 + 1)  # + chunked id lookups of update


def test_iterate_reads_in_bounded_batches(sql_store: SqlStore) -> None:
    with sql_store.transaction() as tx:
        store_new(tx, [make_fields(n) for n in range(23)])
    with statements(sql_store.engine) as seen:
        got = [i.id for i in sql_store.iterate(IndicatorQuery(), T0, batch=5)]
    assert got == list(range(1, 24))
    selects = [s for s, _ in seen if "FROM indicators" in s]
    assert len(selects) == 5
    assert all("LIMIT" in s for s in selects)


def test_read_only_transactions_do_not_wait_for_writers(sql_store: SqlStore) -> None:
    with sql_store.transaction() as writer:
        store_new(writer, [make_fields(1)])
        with sql_store.transaction(readonly=True) as reader:
            assert reader.active_count() == 0  # the writer has not committed yet
            assert reader.get(1) is None
    with sql_store.transaction(readonly=True) as reader:
        assert reader.active_count() == 1


def test_one_active_row_per_identity_is_enforced(sql_store: SqlStore) -> None:
    """The memory store trusts the services; the SQL schema also refuses a duplicate."""
    with sql_store.transaction() as tx:
        (first,) = store_new(tx, [make_fields(1)])
    with pytest.raises(ValueError, match="conflicts"), sql_store.transaction() as tx:
        tx.insert([make_indicator(2, make_fields(1))])
    with sql_store.transaction() as tx:
        tx.update([replace(first, state=IndicatorState.EXPIRED)])
        tx.insert([make_indicator(2, make_fields(1))])  # the identity is free again
        assert tx.active_count() == 1


def test_analyze_keeps_behaviour(sql_store: SqlStore) -> None:
    with sql_store.transaction() as tx:
        made = store_new(tx, [make_fields(n) for n in range(50)])
    sql_store.analyze()
    with sql_store.transaction(readonly=True) as tx:
        assert tx.find_by_identity([made[7].fields.identity]) == {made[7].fields.identity: made[7]}
        assert tx.count(IndicatorQuery(), T0) == 50
