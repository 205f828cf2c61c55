"""The Alembic migration builds exactly the schema of tables.py; SQLite is set up right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from iocd.config import Settings
from iocd.domain.decision import Authority
from iocd.domain.indicator import Indicator
from iocd.store.engine import make_engine
from iocd.store.mapping import INDICATOR_COLUMNS, date_encoder, indicator_values
from iocd.store.migrate import HEAD, current_revision, head_revision, upgrade
from iocd.store.sql import SqlStore
from iocd.store.tables import metadata
from tests.factories import make_fields, make_indicator, store_new


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(Settings(data_dir=tmp_path / "nested" / "data"))
    yield engine
    engine.dispose()


def schema_of(engine: Engine) -> dict[str, Any]:
    """Tables with their columns, primary key, foreign keys and indexes (partial WHERE included)."""
    inspector = inspect(engine)
    with engine.connect() as conn:
        index_sql = dict(
            conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'")).all()
        )
    schema: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": [
                (fk["constrained_columns"], fk["referred_table"], fk["options"])
                for fk in inspector.get_foreign_keys(table)
            ],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]), index_sql.get(i["name"]))
                for i in inspector.get_indexes(table)
            ),
        }
    return schema


def test_migration_matches_table_metadata(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    reference = create_engine(f"sqlite:///{tmp_path / 'reference.sqlite3'}")
    metadata.create_all(reference)
    try:
        assert schema_of(engine) == schema_of(reference)
    finally:
        reference.dispose()
    indexes = {i[0]: i for i in schema_of(engine)["indicators"]["indexes"]}
    assert indexes["ux_indicators_active_identity"][2] is True
    assert "WHERE state = 'active'" in indexes["ux_indicators_active_identity"][3]


def test_migration_seeds_counters(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision() == HEAD == "0007"
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT name, value FROM counters")).all())
    assert rows == {
        "indicator_id": 0,
        "sequence": 0,
        "active": 0,
        "alert_id": 0,
        "investigation_id": 0,
        "remediation_task_id": 0,
        "investigated_alert": 0,
    }


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    store = SqlStore(engine)
    with store.transaction() as tx:
        store_new(tx, [make_fields(1), make_fields(2)])
    before = schema_of(engine)
    upgrade(engine)
    assert schema_of(engine) == before
    assert current_revision(engine) == head_revision()
    with store.transaction() as tx:
        assert (tx.active_count(), tx.last_sequence()) == (2, 2)
        assert tx.allocate_ids(1) == 3


def test_sqlite_connection_settings(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    assert (tmp_path / "nested" / "data" / "iocd.sqlite3").is_file()
    with engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        "busy_timeout": 30000,
    }


@pytest.mark.parametrize(("mib", "expected"), [(1024, 1 << 30), (0, 0), (-5, 0)])
def test_sqlite_reads_through_a_memory_map_of_the_chosen_size(
    tmp_path: Path, mib: int, expected: int
) -> None:
    engine = make_engine(Settings(data_dir=tmp_path, sqlite_mmap_mib=mib))
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == expected
    finally:
        engine.dispose()


def test_the_memory_map_size_comes_from_the_environment() -> None:
    assert Settings().sqlite_mmap_mib == 1024
    assert Settings.from_env({"IOCD_SQLITE_MMAP_MIB": "0"}).sqlite_mmap_mib == 0


def test_primary_keys_alias_the_rowid(engine: Engine) -> None:
    """INTEGER PRIMARY KEY (not BIGINT) keeps indicators clustered by id on SQLite."""
    upgrade(engine)
    with engine.connect() as conn:
        autoindexes = conn.execute(
            text("SELECT tbl_name FROM sqlite_master WHERE name LIKE 'sqlite_autoindex_%'")
        ).scalars()
        assert {"indicators", "changes", "audit"}.isdisjoint(autoindexes)


def _insert_before_0003(engine: Engine, indicator: Indicator) -> None:
    """Write an indicator as the store did before migration 0003 (no authority column)."""
    encode = date_encoder("sqlite")
    row = dict(zip(INDICATOR_COLUMNS, indicator_values(indicator, encode), strict=True))
    del row["authority"]
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO indicators ({names}) VALUES ({marks})", tuple(row.values())
        )
        conn.exec_driver_sql("UPDATE counters SET value = 1 WHERE name <> 'sequence'")
        conn.exec_driver_sql("UPDATE counters SET value = 1 WHERE name = 'sequence'")


def test_upgrade_from_0001_keeps_indicators_and_adds_accounts_and_alerts(engine: Engine) -> None:
    upgrade(engine, "0001")
    _insert_before_0003(engine, make_indicator(1))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    store = SqlStore(engine)
    with store.accounts() as accounts:
        accounts.put_setting("tenant_id", "t")
    with store.transaction(readonly=True) as tx:
        assert tx.active_count() == 1
        stored = tx.get(1)
        assert stored is not None
        assert stored.authority is Authority.ORGANISATION
        assert stored == make_indicator(1)
    with store.alerts() as alerts:
        assert alerts.allocate_ids(2) == 1
