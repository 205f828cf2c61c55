"""Engines for the SQL store: SQLite in the data directory (embedded) or PostgreSQL (psycopg 3).

SQLite connections are set up on connect: WAL journal, synchronous=NORMAL (durable at
checkpoints, safe with WAL), foreign keys on, a 30 s busy timeout, a larger page cache, reads
through a memory map of the file (Settings.sqlite_mmap_mib), and the `iocd_casefold` function
used by case-insensitive filters. The driver's own transaction handling is switched off and the
"begin" event issues BEGIN itself, so a transaction really starts when SQLAlchemy begins one:
BEGIN IMMEDIATE (take the write lock now; writers queue on the busy timeout instead of failing
when a read-then-write transaction upgrades), or a deferred BEGIN for connections carrying the
execution option `iocd_begin="BEGIN"` (read-only work).
Bulk-loading processes (Settings.sqlite_bulk) sync every commit and checkpoint less often.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event

from iocd.config import Settings
from iocd.store.filters import SQLITE_FOLD_FUNCTION

BUSY_TIMEOUT_MS = 30_000
BEGIN_OPTION = "iocd_begin"
"""Connection execution option naming the BEGIN statement on SQLite (default BEGIN IMMEDIATE)."""


def _casefold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see the "begin" event)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA wal_autocheckpoint=16384")  # 64 MiB of WAL between checkpoints
    finally:
        cursor.close()
    dbapi_connection.create_function(SQLITE_FOLD_FUNCTION, 1, _casefold, deterministic=True)


BULK_AUTOCHECKPOINT_PAGES = 65_536
"""256 MiB of WAL between checkpoints on bulk-loading connections (4 KiB pages)."""


def _on_bulk_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    """Bulk loading (Settings.sqlite_bulk): durable at every commit, fewer checkpoints.

    With synchronous=NORMAL a commit reaches the disk at the next checkpoint; with FULL the WAL
    is synced at each commit, so checkpoints no longer bound what a power loss can take, and
    they can come less often: a large import changes index pages all over the file, and each
    checkpoint writes every page changed since the previous one back, once.
    """
    dbapi_connection.execute("PRAGMA synchronous=FULL")
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={BULK_AUTOCHECKPOINT_PAGES}")


def _on_sqlite_begin(connection: Any) -> None:
    statement = connection.get_execution_options().get(BEGIN_OPTION, "BEGIN IMMEDIATE")
    connection.exec_driver_sql(statement)


def make_engine(settings: Settings) -> Engine:
    """The engine the settings name: SQLite in `settings.data_dir` unless a database URL is set."""
    url = settings.sqlalchemy_url
    if not settings.uses_sqlite:
        return create_engine(url, pool_pre_ping=True, pool_use_lifo=True)
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    # LIFO: the most recently used connection (warm page cache) serves the next request, and the
    # rest of the pool stays cold instead of each connection caching the same pages.
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, pool_use_lifo=True
    )
    event.listen(engine, "connect", _on_sqlite_connect)
    cache_kib = settings.sqlite_cache_mib * 1024
    mmap_bytes = max(settings.sqlite_mmap_mib, 0) << 20

    def _page_memory(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Allocated as pages are touched, up to this size, per connection.
        dbapi_connection.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        # Pages read through a map of the file (shared by every connection, kept by the OS's
        # page cache) instead of a read call each: half the cost of a lookup that misses the
        # page cache, as a scan's lookups of a million indicators mostly do.
        dbapi_connection.execute(f"PRAGMA mmap_size={int(mmap_bytes)}")

    event.listen(engine, "connect", _page_memory)
    if settings.sqlite_bulk:
        event.listen(engine, "connect", _on_bulk_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine
