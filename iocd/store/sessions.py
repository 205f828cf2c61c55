"""SessionsTransaction over SQL: the same behaviour as store.memory.MemorySessions, durably.

An `SqlSessions` works inside a transaction opened by `SqlStore.sessions()` (sql.py), which is
`SqlStore.transaction()` itself. Users are read through store.accounts.SqlAccounts on the same
connection, so resuming a session is one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from iocd.domain.accounts import User
from iocd.domain.history import AuditEntry
from iocd.domain.sessions import Session
from iocd.store.accounts import AppendAudit, SqlAccounts
from iocd.store.tables import sessions

_s = sessions.c


class SqlSessions:
    def __init__(self, connection: Connection, append_audit: AppendAudit) -> None:
        self._conn = connection
        self._accounts = SqlAccounts(connection, append_audit)
        self._append_audit = append_audit

    def put_session(self, session: Session) -> None:
        dialect = self._conn.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        values: dict[str, Any] = {
            "token_hash": session.token_hash,
            "user_name": session.user_name,
            "created_at": session.created_at,
            "last_seen_at": session.last_seen_at,
        }
        stmt = insert(sessions).values(values)
        others = {k: stmt.excluded[k] for k in values if k != "token_hash"}
        self._conn.execute(stmt.on_conflict_do_update(index_elements=["token_hash"], set_=others))

    def get_session(self, token_hash: str) -> Session | None:
        row = self._conn.execute(select(sessions).where(_s.token_hash == token_hash)).first()
        if row is None:
            return None
        return Session(row.token_hash, row.user_name, row.created_at, row.last_seen_at)

    def delete_session(self, token_hash: str) -> bool:
        result = self._conn.execute(sessions.delete().where(_s.token_hash == token_hash))
        return bool(result.rowcount)

    def purge_sessions(self, seen_before: datetime, created_before: datetime) -> int:
        stmt = sessions.delete().where(
            or_(_s.last_seen_at < seen_before, _s.created_at < created_before)
        )
        return int(self._conn.execute(stmt).rowcount or 0)

    def get_user(self, name: str) -> User | None:
        return self._accounts.get_user(name)

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        self._append_audit(entries)
