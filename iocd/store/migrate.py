"""Schema migrations, run programmatically: `upgrade(engine)` brings a database to head.

The Alembic environment lives inside the package (iocd/store/migrations) so an installed iocd
can migrate its own database; there is no alembic.ini. Upgrading an up-to-date database is a
no-op, and is told without Alembic: the version row is read and compared with HEAD (every
command opens the store, and importing Alembic would cost each of them a tenth of a second).
The whole upgrade runs in one transaction (transactional DDL on both backends).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0007"
"""The newest revision in migrations/versions (a test checks it is Alembic's head)."""


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind `engine` to `revision` (head by default)."""
    if revision == "head" and _version_row(engine) == HEAD:
        return
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _version_row(engine: Engine) -> str | None:
    """The revision in Alembic's version table, or None (no table, or not one row)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # never migrated: no version table
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision this version of iocd knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
