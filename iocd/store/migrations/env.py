"""Alembic environment: migrates the connection handed over by iocd.store.migrate.

`config.attributes["connection"]` carries an open connection (usually inside a transaction);
without one, an engine is built from the IOCD_* environment so `alembic` can also be driven by
hand. Batch mode is on so later migrations can alter tables on SQLite.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from iocd.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from iocd.config import Settings
    from iocd.store.engine import make_engine

    engine = make_engine(Settings.from_env())
    try:
        with engine.begin() as owned:
            _run(owned)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("iocd migrations run online only (iocd.store.migrate.upgrade)")
run_online()
