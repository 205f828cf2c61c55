"""AccountsTransaction over SQL: the same behaviour as store.memory.MemoryAccounts, durably.

An `SqlAccounts` works inside a transaction opened by `SqlStore.accounts()` (sql.py), which is
`SqlStore.transaction()` itself: the same commit/rollback and the same writer serialisation.
`put_*` is one INSERT ... ON CONFLICT DO UPDATE (both backends speak it). Listings order by the
natural key in code-point order, as Python sorts strings (COLLATE "C" on PostgreSQL; SQLite's
default BINARY already is). Audit entries go to the indicators' `audit` table, written by the
indicator transaction's own `append_audit`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from iocd.domain.accounts import Application, DeviceGroup, PersonalToken, User
from iocd.domain.history import AuditEntry
from iocd.store import account_mapping, mapping
from iocd.store.tables import (
    applications,
    audit,
    device_groups,
    instance_settings,
    personal_tokens,
    users,
)

AppendAudit = Callable[[Sequence[AuditEntry]], None]


class SqlAccounts:
    """AccountsTransaction over one connection inside an open database transaction."""

    def __init__(self, connection: Connection, append_audit: AppendAudit) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name
        self._append_audit = append_audit

    # -- helpers ------------------------------------------------------------------------------

    def _put(self, table: Table, values: dict[str, Any]) -> None:
        """Insert the row, or replace every column of the row with the same primary key."""
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt = insert(table).values(values)
        keys = [c.name for c in table.primary_key.columns]
        others = {name: stmt.excluded[name] for name in values if name not in keys}
        self._conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=others))

    def _key(self, column: Column[Any]) -> Any:
        """A text column ordered by code point, as Python orders str."""
        return column.collate("C") if self._dialect == "postgresql" else column

    def _rows(self, table: Table, *where: Any, order_by: Sequence[Any] = ()) -> Any:
        return self._conn.execute(select(table).where(*where).order_by(*order_by)).all()

    # -- applications -------------------------------------------------------------------------

    def put_application(self, application: Application) -> None:
        self._put(applications, account_mapping.application_values(application))

    def get_application(self, client_id: str) -> Application | None:
        rows = self._rows(applications, applications.c.client_id == client_id)
        return account_mapping.application_from_row(rows[0]) if rows else None

    def list_applications(self) -> builtins.list[Application]:
        rows = self._rows(applications, order_by=[self._key(applications.c.client_id)])
        return [account_mapping.application_from_row(row) for row in rows]

    # -- users and personal tokens ------------------------------------------------------------

    def put_user(self, user: User) -> None:
        self._put(users, account_mapping.user_values(user))

    def get_user(self, name: str) -> User | None:
        rows = self._rows(users, users.c.name == name)
        return account_mapping.user_from_row(rows[0]) if rows else None

    def list_users(self) -> builtins.list[User]:
        rows = self._rows(users, order_by=[self._key(users.c.name)])
        return [account_mapping.user_from_row(row) for row in rows]

    def put_token(self, token: PersonalToken) -> None:
        self._put(personal_tokens, account_mapping.token_values(token))

    def get_token(self, token_id: str) -> PersonalToken | None:
        rows = self._rows(personal_tokens, personal_tokens.c.token_id == token_id)
        return account_mapping.token_from_row(rows[0]) if rows else None

    def list_tokens(self, user_name: str) -> builtins.list[PersonalToken]:
        c = personal_tokens.c
        rows = self._rows(
            personal_tokens, c.user_name == user_name, order_by=[self._key(c.token_id)]
        )
        return [account_mapping.token_from_row(row) for row in rows]

    # -- device groups ------------------------------------------------------------------------

    def put_group(self, group: DeviceGroup) -> None:
        self._put(device_groups, account_mapping.device_group_values(group))

    def get_group(self, name: str) -> DeviceGroup | None:
        rows = self._rows(device_groups, device_groups.c.name == name)
        return account_mapping.device_group_from_row(rows[0]) if rows else None

    def list_groups(self) -> builtins.list[DeviceGroup]:
        c = device_groups.c
        rows = self._rows(device_groups, order_by=[c.rank, self._key(c.name)])
        return [account_mapping.device_group_from_row(row) for row in rows]

    def delete_group(self, name: str) -> bool:
        result = self._conn.execute(device_groups.delete().where(device_groups.c.name == name))
        return bool(result.rowcount)

    # -- instance settings --------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        stmt = select(instance_settings.c.value).where(instance_settings.c.key == key)
        value: str | None = self._conn.execute(stmt).scalar_one_or_none()
        return value

    def put_setting(self, key: str, value: str) -> None:
        self._put(instance_settings, {"key": key, "value": value})

    # -- audit --------------------------------------------------------------------------------

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        self._append_audit(entries)

    def recent_audit(self, limit: int, before_id: int | None = None) -> builtins.list[AuditEntry]:
        """The newest entries first (by id, the order they were appended), before `before_id`."""
        stmt = select(audit).order_by(audit.c.id.desc()).limit(max(limit, 0))
        if before_id is not None:
            stmt = stmt.where(audit.c.id < before_id)
        return [mapping.audit_from_row(row) for row in self._conn.execute(stmt).all()]
