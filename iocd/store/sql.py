"""The SQL store (SQLite or PostgreSQL): the same behaviour as store.memory, durably.

Transactions: one connection and one database transaction per `transaction()`; commit on normal
exit, rollback on an exception. Writers are serialised from the start of their transaction:
SQLite begins them IMMEDIATE (engine.py); PostgreSQL locks the 'sequence' counters row. So a
writer's reads (find_by_identity, active_count) stay true until it commits, and the change
sequence is gap-free: values are handed out by UPDATE ... RETURNING on the counters rows, which
a rollback gives back. `transaction(readonly=True)` skips the write lock (for pure reads).
`accounts()` is the same transaction, seen through store.accounts.SqlAccounts; `alerts()` likewise
through store.alerts.SqlAlerts.

Bulk: every write method takes a batch and issues a fixed number of statements (driver-level
executemany over plain tuples, chunked IN lists), never one statement per row and no ORM.
Reads select columns in mapping.INDICATOR_COLUMNS order and build domain objects directly.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

import pyarrow as pa
from sqlalchemy import Connection, Dialect, Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from iocd.domain.history import AuditEntry, Change
from iocd.domain.indicator import IdentityKey, Indicator
from iocd.domain.query import IndicatorQuery
from iocd.domain.scope import scope_key
from iocd.domain.types import IndicatorState
from iocd.domain.versions import Version, VersionQuery
from iocd.store import mapping
from iocd.store.accounts import SqlAccounts
from iocd.store.agents import SqlAgents, read_expiries, read_policy_rows
from iocd.store.alerts import ALERT_COLUMNS, SqlAlerts
from iocd.store.engine import BEGIN_OPTION
from iocd.store.filters import Compiler, stored_active
from iocd.store.investigations import SqlInvestigations
from iocd.store.output_rows import read_output_rows
from iocd.store.sessions import SqlSessions
from iocd.store.tables import alerts, audit, changes, counters, indicator_groups, indicators
from iocd.store.versions import read_versions

IN_CHUNK = 500
"""Values per IN (...) list: well under SQLite's and PostgreSQL's bound-parameter limits."""

_ACTIVE = IndicatorState.ACTIVE.value
_T = TypeVar("_T")


class _Statements:
    """Driver-level SQL of the bulk writes: executemany over plain tuples, no per-row SQLAlchemy
    processing (values are pre-encoded by mapping.date_encoder). Identifiers come from the
    schema and are quoted by the dialect; every value is a bound parameter."""

    def __init__(self, dialect: Dialect) -> None:
        if dialect.paramstyle == "qmark":
            mark = "?"
        elif dialect.paramstyle in ("format", "pyformat"):
            mark = "%s"
        else:  # pragma: no cover - neither SQLite nor psycopg
            raise ValueError(f"unsupported DB-API paramstyle {dialect.paramstyle}")
        quote = dialect.identifier_preparer.quote

        def insert(table: str, columns: Sequence[str]) -> str:
            names = ", ".join(map(quote, columns))
            marks = ", ".join([mark] * len(columns))
            return f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})"

        self.insert_indicators = insert("indicators", mapping.INDICATOR_COLUMNS)
        assignments = ", ".join(f"{quote(c)} = {mark}" for c in mapping.INDICATOR_COLUMNS[1:])
        self.update_indicators = f"UPDATE indicators SET {assignments} WHERE id = {mark}"
        self.insert_groups = insert("indicator_groups", mapping.GROUP_COLUMNS)
        self.insert_changes = insert("changes", mapping.CHANGE_COLUMNS)
        self.insert_audit = insert("audit", mapping.AUDIT_COLUMNS)
        in_list = ", ".join([mark] * IN_CHUNK)
        self.find_identity = (
            f"SELECT id, value, scope_key FROM indicators WHERE state = '{_ACTIVE}' "
            f"AND indicator_type = {mark} AND value IN ({in_list})"
        )


@contextmanager
def _conflicts_as_value_error(verb: str) -> Iterator[None]:
    """A broken constraint (an id that exists, two active rows of one identity) is a caller bug,
    reported as ValueError like the in-memory store does; the transaction must be rolled back."""
    try:
        yield
    except IntegrityError as exc:
        raise ValueError(f"{verb} conflicts with stored indicators: {exc.orig}") from exc


def _chunks(items: Iterable[_T], size: int = IN_CHUNK) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class SqlTransaction:
    """StoreTransaction over one connection inside an open database transaction."""

    def __init__(self, connection: Connection, store: SqlStore) -> None:
        self._conn = connection
        self.inserted = 0
        self._compiler = store.compiler
        self._sql = store.statements
        self._encode = store.encode

    def _executemany(self, statement: str, rows: builtins.list[tuple[Any, ...]]) -> None:
        if rows:
            self._conn.exec_driver_sql(statement, rows)

    # -- counters -----------------------------------------------------------------------------

    def _bump(self, name: str, delta: int) -> int:
        """Add `delta` to a counter; returns the new value (the row stays locked on PostgreSQL)."""
        stmt = (
            update(counters)
            .where(counters.c.name == name)
            .values(value=counters.c.value + delta)
            .returning(counters.c.value)
        )
        return int(self._conn.execute(stmt).scalar_one())

    def _counter(self, name: str) -> int:
        stmt = select(counters.c.value).where(counters.c.name == name)
        return int(self._conn.execute(stmt).scalar_one())

    def allocate_ids(self, count: int) -> int:
        return self._bump("indicator_id", count) - count + 1

    def allocate_sequence(self, count: int) -> int:
        return self._bump("sequence", count) - count + 1

    def active_count(self) -> int:
        return self._counter("active")

    def last_sequence(self) -> int:
        return self._counter("sequence")

    # -- reads --------------------------------------------------------------------------------

    def _indicators(self, *where: Any) -> list[Indicator]:
        rows = self._conn.execute(select(*mapping.INDICATOR_SELECT).where(*where)).all()
        return [mapping.indicator_from_row(row) for row in rows]

    def get(self, indicator_id: int) -> Indicator | None:
        found = self._indicators(indicators.c.id == indicator_id)
        return found[0] if found else None

    def find_by_identity(self, keys: Sequence[IdentityKey]) -> dict[IdentityKey, Indicator]:
        """Through the partial unique index (value, type, scope) WHERE state = 'active': the
        state term is written as that literal so both planners can use it.

        Two steps, for bulk imports where most keys are new: the ids of the matches by a
        driver-level statement of fixed text (IN lists padded to IN_CHUNK values, so the driver
        reuses one prepared statement), then whole rows for those ids only."""
        wanted = set(keys)
        by_type: dict[str, set[str]] = {}
        for kind, value, _scope in wanted:
            by_type.setdefault(kind, set()).add(value)
        ids: builtins.list[int] = []
        execute = self._conn.exec_driver_sql
        statement = self._sql.find_identity
        for indicator_type, values in by_type.items():
            for chunk in _chunks(sorted(values)):
                if len(chunk) < IN_CHUNK:
                    chunk += [chunk[-1]] * (IN_CHUNK - len(chunk))
                for id_, value, scope in execute(statement, (indicator_type, *chunk)):
                    if (indicator_type, value, scope) in wanted:
                        ids.append(id_)
        if not ids:
            return {}
        found: builtins.list[Indicator] = []
        for id_chunk in _chunks(sorted(ids)):
            found += self._indicators(indicators.c.id.in_(id_chunk))
        return {
            i.fields.identity: i
            for i in found
            if i.state is IndicatorState.ACTIVE and i.fields.identity in wanted
        }

    def find_by_external_id(
        self, created_by: str, external_ids: Sequence[str]
    ) -> dict[str, Indicator]:
        """By (creator, externalId) only, state filtered here (see find_by_identity)."""
        found: list[Indicator] = []
        c = indicators.c
        for chunk in _chunks(sorted(set(external_ids))):
            found += self._indicators(c.created_by == created_by, c.external_id.in_(chunk))
        found.sort(key=lambda i: i.id)
        return {
            i.fields.external_id: i
            for i in found
            if i.state is IndicatorState.ACTIVE and i.fields.external_id is not None
        }

    def due_for_expiry(self, now: datetime, limit: int) -> list[Indicator]:
        c = indicators.c
        stmt = (
            select(*mapping.INDICATOR_SELECT)
            .where(stored_active(), c.expiration_time.is_not(None), c.expiration_time <= now)
            .order_by(c.expiration_time, c.id)
            .limit(limit)
        )
        return [mapping.indicator_from_row(row) for row in self._conn.execute(stmt).all()]

    def list(self, query: IndicatorQuery, now: datetime) -> list[Indicator]:
        rows = self._conn.execute(self._compiler.page(query, now)).all()
        return [mapping.indicator_from_row(row) for row in rows]

    def count(self, query: IndicatorQuery, now: datetime) -> int:
        stmt = (
            select(func.count())
            .select_from(indicators)
            .where(*self._compiler.conditions(query, now))
        )
        return int(self._conn.execute(stmt).scalar_one())

    def count_by(
        self, query: IndicatorQuery, now: datetime, fields: Sequence[str]
    ) -> dict[tuple[str | None, ...], int]:
        columns = [self._compiler.group_column(name) for name in fields]
        stmt = (
            select(*columns, func.count())
            .select_from(indicators)
            .where(*self._compiler.conditions(query, now))
            .group_by(*columns)
        )
        return {tuple(row[:-1]): int(row[-1]) for row in self._conn.execute(stmt).all()}

    def audit_for(self, indicator_id: int) -> builtins.list[AuditEntry]:
        stmt = select(audit).where(audit.c.indicator_id == indicator_id).order_by(audit.c.id)
        return [mapping.audit_from_row(row) for row in self._conn.execute(stmt).all()]

    def changes_since(self, sequence: int, limit: int) -> builtins.list[Change]:
        stmt = (
            select(changes)
            .where(changes.c.sequence > sequence)
            .order_by(changes.c.sequence)
            .limit(limit)
        )
        return [mapping.change_from_row(row) for row in self._conn.execute(stmt).all()]

    def versions(self, query: VersionQuery) -> builtins.list[Version]:
        return read_versions(self._conn, self._compiler, query)

    # -- writes -------------------------------------------------------------------------------

    def insert(self, indicators_: Sequence[Indicator]) -> None:
        """Add new indicators; an id that exists (or repeats) fails the statement."""
        if not indicators_:
            return
        encode = self._encode
        rows = [mapping.indicator_values(i, encode) for i in indicators_]
        with _conflicts_as_value_error("insert"):
            self._executemany(self._sql.insert_indicators, rows)
        self.inserted += len(rows)
        self._executemany(self._sql.insert_groups, mapping.group_values(indicators_))
        became_active = sum(1 for i in indicators_ if i.state is IndicatorState.ACTIVE)
        if became_active:
            self._bump("active", became_active)

    def update(self, indicators_: Sequence[Indicator]) -> None:
        """Replace stored indicators by id (the last version wins if an id repeats)."""
        latest = {i.id: i for i in indicators_}
        if not latest:
            return
        stored: dict[int, tuple[str, str]] = {}
        c = indicators.c
        for chunk in _chunks(sorted(latest)):
            stmt = select(c.id, c.state, c.scope_key).where(c.id.in_(chunk))
            stored.update((row.id, (row.state, row.scope_key)) for row in self._conn.execute(stmt))
        missing = sorted(set(latest) - set(stored))
        if missing:
            raise ValueError(f"indicator id {missing[0]} does not exist")
        encode = self._encode
        rows = []
        for indicator in latest.values():
            values = mapping.indicator_values(indicator, encode)
            rows.append((*values[1:], values[0]))
        with _conflicts_as_value_error("update"):
            self._executemany(self._sql.update_indicators, rows)
        regrouped = [
            i for i in latest.values() if scope_key(i.fields.rbac_group_names) != stored[i.id][1]
        ]
        for chunk in _chunks([i.id for i in regrouped]):
            self._conn.execute(
                indicator_groups.delete().where(indicator_groups.c.indicator_id.in_(chunk))
            )
        self._executemany(self._sql.insert_groups, mapping.group_values(regrouped))
        delta = sum(
            (i.state is IndicatorState.ACTIVE) - (stored[i.id][0] == _ACTIVE)
            for i in latest.values()
        )
        if delta:
            self._bump("active", delta)

    def append_changes(self, changes_: Sequence[Change]) -> None:
        encode = self._encode
        self._executemany(
            self._sql.insert_changes, [mapping.change_values(c, encode) for c in changes_]
        )

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append entries; ids are assigned by the database in order (any given id is ignored)."""
        encode = self._encode
        self._executemany(
            self._sql.insert_audit, [mapping.audit_values(e, encode) for e in entries]
        )


ANALYZE_EVERY_ROWS = 50_000
"""PostgreSQL: refresh statistics after this many indicators were inserted by this process."""


class SqlStore:
    """Store over a SQLAlchemy engine whose database is migrated to head (iocd.store.migrate)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self.compiler = Compiler(self._dialect)
        self.alert_compiler = Compiler(self._dialect, ALERT_COLUMNS, alerts.c.id)
        self.statements = _Statements(engine.dialect)
        self.encode = mapping.date_encoder(self._dialect)
        self._grown_since_analyze = 0

    @property
    def engine(self) -> Engine:
        return self._engine

    def analyze(self) -> None:
        """Refresh the planner's statistics; worth calling after a large import. Without them
        PostgreSQL may plan a fresh table badly, and SQLite guesses index selectivity."""
        with self._engine.connect() as conn:
            if self._dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                conn.exec_driver_sql("ANALYZE")
            else:
                conn.exec_driver_sql("ANALYZE indicators, indicator_groups, changes, audit")
            conn.commit()

    @contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[SqlTransaction]:
        with self._engine.connect() as conn:
            if self._dialect == "sqlite" and readonly:
                conn.execution_options(**{BEGIN_OPTION: "BEGIN"})
            with conn.begin():
                if self._dialect == "postgresql" and not readonly:
                    lock = select(counters.c.value).where(counters.c.name == "sequence")
                    conn.execute(lock.with_for_update())
                tx = SqlTransaction(conn, self)
                yield tx
        self._after_commit(tx.inserted)

    def _after_commit(self, inserted: int) -> None:
        """Keep PostgreSQL's statistics fresh while a table grows fast: without them it plans
        lookups on a freshly loaded table as sequential scans (seen: 1 ms per looked-up value
        at 700,000 rows), long before autovacuum's analyze comes round."""
        if self._dialect != "postgresql" or not inserted:
            return
        self._grown_since_analyze += inserted
        if self._grown_since_analyze >= ANALYZE_EVERY_ROWS:
            self._grown_since_analyze = 0
            self.analyze()

    @contextmanager
    def accounts(self, readonly: bool = False) -> Iterator[SqlAccounts]:
        """A unit of work over accounts, with exactly the rules of `transaction()`."""
        with self.transaction(readonly) as tx:
            yield SqlAccounts(tx._conn, tx.append_audit)

    @contextmanager
    def alerts(self, readonly: bool = False) -> Iterator[SqlAlerts]:
        """A unit of work over alerts, devices and sightings, with the rules of `transaction()`."""
        with self.transaction(readonly) as tx:
            yield SqlAlerts(tx._conn, tx.append_audit, tx._bump, self.alert_compiler)

    @contextmanager
    def sessions(self, readonly: bool = False) -> Iterator[SqlSessions]:
        """A unit of work over portal sessions, with the rules of `transaction()`."""
        with self.transaction(readonly) as tx:
            yield SqlSessions(tx._conn, tx.append_audit)

    @contextmanager
    def agents(self, readonly: bool = False) -> Iterator[SqlAgents]:
        """A unit of work over agents and enrolment tokens, with the rules of `transaction()`."""
        with self.transaction(readonly) as tx:
            yield SqlAgents(tx._conn, tx.append_audit)

    @contextmanager
    def investigations(self, readonly: bool = False) -> Iterator[SqlInvestigations]:
        """A unit of work over investigations and tasks, with the rules of `transaction()`."""
        with self.transaction(readonly) as tx:
            yield SqlInvestigations(tx._conn, tx._bump)

    def policy_rows(self, batch: int = 50_000) -> Iterator[tuple[int, pa.RecordBatch]]:
        """The active indicators as snapshot batches, from one read-only snapshot (agents.py)."""
        return read_policy_rows(self._engine, batch)

    def expiries(self) -> tuple[Any, Any]:
        """(ids, Unix-second expiries) of the stored-active indicators that expire (agents.py)."""
        return read_expiries(self._engine)

    def output_rows(self, *args: Any, **options: Any) -> Iterator[list[tuple[Any, ...]]]:
        """The narrow columnar read of the outputs, from one read-only snapshot (output_rows.py)."""
        return read_output_rows(self._engine, *args, **options)

    def iterate(
        self, query: IndicatorQuery, now: datetime, batch: int = 5000
    ) -> Iterator[Indicator]:
        """Keyset pagination by id over one read-only snapshot; memory holds one batch."""
        conditions = self.compiler.conditions(query, now)
        c = indicators.c
        with self._engine.connect() as conn:
            if self._dialect == "sqlite":
                conn.execution_options(**{BEGIN_OPTION: "BEGIN"})
            elif self._dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                last: int | None = None
                while True:
                    where = conditions if last is None else [*conditions, c.id > last]
                    stmt = (
                        select(*mapping.INDICATOR_SELECT).where(*where).order_by(c.id).limit(batch)
                    )
                    rows = conn.execute(stmt).all()
                    yield from (mapping.indicator_from_row(row) for row in rows)
                    if len(rows) < batch:
                        return
                    last = rows[-1].id
