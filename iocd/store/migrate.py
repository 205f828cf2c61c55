"""Schema migrations, run programmatically: `upgrade(engine)` brings a database to head.

The Alembic environment lives inside the package (iocd/store/migrations) so an installed iocd
can migrate its own database; there is no alembic.ini. Upgrading an up-to-date database is a
no-op. The whole upgrade runs in one transaction (transactional DDL on both backends).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind `engine` to `revision` (head by default)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision this version of iocd knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
