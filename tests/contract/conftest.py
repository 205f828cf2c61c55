"""The `store` fixture: every test of this folder runs over memory, SQLite and PostgreSQL.

SQLite lives in the test's tmp_path. PostgreSQL (IOCD_TEST_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test, falling back to user root) gets a fresh schema per
test, reached through search_path and dropped afterwards. Without PostgreSQL those variants are
skipped, or fail when IOCD_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from iocd.config import Settings
from iocd.services.ports import Store
from iocd.store.engine import make_engine
from iocd.store.memory import MemoryStore
from iocd.store.migrate import upgrade
from iocd.store.sql import SqlStore
from tests.services_required import require_or_skip

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
STORE_KINDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _reachable(url: str) -> str | None:
    """None if a connection works, else why not."""
    engine = create_engine(_psycopg_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0]
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A URL PostgreSQL answers on (the env URL, or the default with user postgres then root)."""
    configured = os.environ.get("IOCD_TEST_DATABASE_URL")
    candidates = (
        [configured] if configured else [DEFAULT_URL, DEFAULT_URL.replace("postgres@", "root@")]
    )
    reasons = []
    for url in candidates:
        reason = _reachable(url)
        if reason is None:
            return url
        reasons.append(f"{make_url(url).render_as_string()}: {reason}")
    require_or_skip("PostgreSQL unreachable: " + "; ".join(reasons))


@pytest.fixture(scope="session")
def postgres_admin(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(_psycopg_url(postgres_url))
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str, postgres_admin: Engine) -> Iterator[Engine]:
    """An engine (built by make_engine) confined to a fresh, migrated schema."""
    schema = f"iocd_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(Settings(database_url=url.render_as_string(hide_password=False)))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with postgres_admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(Settings(data_dir=tmp_path / "data"))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def store(store_kind: str, request: pytest.FixtureRequest) -> Store:
    if store_kind == "memory":
        return MemoryStore()
    engine: Engine = request.getfixturevalue(f"{store_kind}_engine")
    return SqlStore(engine)
