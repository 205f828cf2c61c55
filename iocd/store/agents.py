"""AgentsTransaction over SQL, and the columnar read of the policy view (`policy_rows`).

An `SqlAgents` works inside a transaction opened by `SqlStore.agents()` (sql.py), which is
`SqlStore.transaction()` itself: the same commit/rollback and writer serialisation. `put_*` is
one INSERT ... ON CONFLICT DO UPDATE. `read_policy_rows` selects the few columns an agent needs
straight from the driver, keyset-paged by id inside one read-only snapshot (SQLite: one deferred
read transaction in WAL mode; PostgreSQL: REPEATABLE READ), and turns each page into an Arrow
batch with vectorised kernels.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from iocd.domain.agents import AgentDevice, EnrollmentToken
from iocd.domain.history import AuditEntry
from iocd.matching.snapshot import snapshot_batch
from iocd.store.accounts import AppendAudit
from iocd.store.engine import BEGIN_OPTION
from iocd.store.tables import agent_reports, agents, enrollment_tokens

_EMPTY_GROUPS = pa.scalar([], pa.list_(pa.string()))


def token_values(token: EnrollmentToken) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "secret_hash": token.secret_hash,
        "created_at": token.created_at,
        "created_by": token.created_by,
        "expires_at": token.expires_at,
        "max_uses": token.max_uses,
        "uses": token.uses,
        "group_name": token.group,
        "revoked_at": token.revoked_at,
    }


def token_from_row(row: Any) -> EnrollmentToken:
    return EnrollmentToken(
        row.token_id,
        row.secret_hash,
        row.created_at,
        row.created_by,
        row.expires_at,
        row.max_uses,
        row.uses,
        row.group_name,
        row.revoked_at,
    )


def agent_values(agent: AgentDevice) -> dict[str, Any]:
    return {
        "device_id": agent.device_id,
        "hostname": agent.hostname,
        "os": agent.os,
        "domain": agent.domain,
        "tags": json.dumps(list(agent.tags)),
        "group_name": agent.group,
        "group_bound": agent.group_bound,
        "credential_hash": agent.credential_hash,
        "enrolled_at": agent.enrolled_at,
        "last_contact": agent.last_contact,
        "token_id": agent.token_id,
        "agent_version": agent.agent_version,
        "applied_sequence": agent.applied_sequence,
        "applied_digest": agent.applied_digest,
        "file_enforcement": agent.file_enforcement,
        "network_enforcement": agent.network_enforcement,
    }


def agent_from_row(row: Any) -> AgentDevice:
    return AgentDevice(
        device_id=row.device_id,
        hostname=row.hostname,
        os=row.os,
        domain=row.domain,
        tags=tuple(json.loads(row.tags)),
        group=row.group_name,
        group_bound=bool(row.group_bound),
        credential_hash=row.credential_hash,
        enrolled_at=row.enrolled_at,
        last_contact=row.last_contact,
        token_id=row.token_id,
        agent_version=row.agent_version,
        applied_sequence=row.applied_sequence,
        applied_digest=row.applied_digest,
        file_enforcement=row.file_enforcement,
        network_enforcement=row.network_enforcement,
    )


class SqlAgents:
    """AgentsTransaction over one connection inside an open database transaction."""

    def __init__(self, connection: Connection, append_audit: AppendAudit) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name
        self._append_audit = append_audit

    def _put(self, table: Table, values: dict[str, Any]) -> None:
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt = insert(table).values(values)
        keys = [c.name for c in table.primary_key.columns]
        others = {name: stmt.excluded[name] for name in values if name not in keys}
        self._conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=others))

    def _key(self, column: Any) -> Any:
        return column.collate("C") if self._dialect == "postgresql" else column

    def put_enrollment_token(self, token: EnrollmentToken) -> None:
        self._put(enrollment_tokens, token_values(token))

    def get_enrollment_token(self, token_id: str) -> EnrollmentToken | None:
        stmt = select(enrollment_tokens).where(enrollment_tokens.c.token_id == token_id)
        row = self._conn.execute(stmt).first()
        return token_from_row(row) if row is not None else None

    def list_enrollment_tokens(self) -> builtins.list[EnrollmentToken]:
        stmt = select(enrollment_tokens).order_by(self._key(enrollment_tokens.c.token_id))
        return [token_from_row(row) for row in self._conn.execute(stmt)]

    def put_agent(self, agent: AgentDevice) -> None:
        self._put(agents, agent_values(agent))

    def get_agent(self, device_id: str) -> AgentDevice | None:
        row = self._conn.execute(select(agents).where(agents.c.device_id == device_id)).first()
        return agent_from_row(row) if row is not None else None

    def list_agents(self) -> builtins.list[AgentDevice]:
        stmt = select(agents).order_by(self._key(agents.c.device_id))
        return [agent_from_row(row) for row in self._conn.execute(stmt)]

    def report_seen(self, device_id: str, batch_id: str) -> bool:
        c = agent_reports.c
        stmt = select(c.batch_id).where(c.device_id == device_id, c.batch_id == batch_id)
        return self._conn.execute(stmt).first() is not None

    def add_report(self, device_id: str, batch_id: str, at: datetime) -> bool:
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(agent_reports)
            .values(device_id=device_id, batch_id=batch_id, received_at=at)
            .on_conflict_do_nothing(index_elements=["device_id", "batch_id"])
            .returning(agent_reports.c.batch_id)
        )
        return self._conn.execute(stmt).first() is not None

    def purge_reports(self, received_before: datetime) -> int:
        c = agent_reports.c
        done = self._conn.execute(agent_reports.delete().where(c.received_at < received_before))
        return int(done.rowcount or 0)

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        self._append_audit(entries)


_POLICY_SQL = (
    "SELECT id, indicator_type, value, action, rbac_group_names, authority, "
    "override_justification IS NOT NULL, generate_alert, sequence FROM indicators "
    "WHERE state = 'active' AND id > {mark} ORDER BY id LIMIT {limit}"
)


def policy_batch(rows: Sequence[Sequence[Any]]) -> pa.RecordBatch:
    """A SNAPSHOT_SCHEMA batch of `_POLICY_SQL` rows (groups: '|'-joined, sorted, '' = all)."""
    ids, types, values, actions, groups, authorities, overridden, alert, seqs = (
        (list(c) for c in zip(*rows, strict=True)) if rows else ([] for _ in range(9))
    )
    joined = pa.array(groups, pa.string())
    split = pc.if_else(pc.equal(joined, ""), _EMPTY_GROUPS, pc.split_pattern(joined, "|"))
    return snapshot_batch(
        ids,
        types,
        values,
        actions,
        split,
        pc.utf8_lower(pa.array(authorities, pa.string())),
        np.asarray(overridden, dtype=bool),
        np.asarray(alert, dtype=bool),
        seqs,
    )


def read_policy_rows(engine: Engine, batch: int) -> Iterator[tuple[int, pa.RecordBatch]]:
    dialect = engine.dialect.name
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = _POLICY_SQL.format(mark=mark, limit=int(batch))
    with engine.connect() as conn:
        if dialect == "sqlite":
            conn = conn.execution_options(**{BEGIN_OPTION: "BEGIN"})
        elif dialect == "postgresql":
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with conn.begin():
            sequence = int(
                conn.exec_driver_sql(
                    "SELECT value FROM counters WHERE name = 'sequence'"
                ).scalar_one()
            )
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            last = 0
            sent = False
            while True:  # plain DB-API tuples: no per-row SQLAlchemy Row objects
                cursor.execute(sql, (last,))
                rows = cursor.fetchall()
                if rows or not sent:
                    yield sequence, policy_batch(rows)
                    sent = True
                if len(rows) < batch:
                    return
                last = rows[-1][0]


def read_expiries(engine: Engine, chunk: int = 100_000) -> tuple[Any, Any]:
    """(ids, expiry as Unix seconds) of the stored-active indicators that expire, as numpy
    arrays (read in chunks of plain DB-API tuples)."""
    seconds = (
        "expiration_time / 1000000.0"
        if engine.dialect.name == "sqlite"
        else "EXTRACT(EPOCH FROM expiration_time)"
    )
    sql = (
        f"SELECT id, {seconds} FROM indicators "
        "WHERE state = 'active' AND expiration_time IS NOT NULL"
    )
    ids: list[Any] = [np.zeros(0, dtype=np.int64)]
    times: list[Any] = [np.zeros(0, dtype=np.float64)]
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql)
        while rows := cursor.fetchmany(chunk):
            ids.append(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
            times.append(np.fromiter((float(r[1]) for r in rows), np.float64, len(rows)))
    return np.concatenate(ids), np.concatenate(times)
