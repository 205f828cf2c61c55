"""AlertsTransaction over SQL: the same behaviour as store.memory.MemoryAlerts, durably.

An `SqlAlerts` works inside a transaction opened by `SqlStore.alerts()` (sql.py), which is
`SqlStore.transaction()` itself: the same commit/rollback and writer serialisation. Alert ids
come from the counters row 'alert_id'. Rows and the batch statements are in alert_rows, the
sightings' in sighting_rows.

Every write takes a batch and issues a fixed number of statements (an executemany counts as
one): `record_sightings` (new pairs, per-indicator totals), `open_alerts` (one query
per KEY_CHUNK dedupe keys, passed as one JSON or array parameter) and `record_repeats` (only the
columns repeats change) run for every scanned telemetry batch. Upserts are INSERT ... ON
CONFLICT DO UPDATE; rows are merged per key first (one statement may not touch a row twice).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Connection,
    Text,
    and_,
    cast,
    false,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB

from iocd.domain.alert_repeats import AlertRepeats
from iocd.domain.alert_sources import AlertSource
from iocd.domain.alerts import (
    Alert,
    AlertQuery,
    AlertStatus,
    DedupeKey,
)
from iocd.domain.devices import Device, SightingColumns, Sightings, widen_device
from iocd.domain.history import AuditEntry
from iocd.domain.indicator import format_datetime
from iocd.domain.instants import from_micros, micros
from iocd.domain.new_alerts import NewAlerts
from iocd.domain.query import Visibility
from iocd.store import alert_counts, sighting_rows
from iocd.store.alert_rows import (
    SEVERITIES,
    alert_from_row,
    alert_row,
    decision_text,
    json_text,
    new_alert_rows,
    statements,
    time_encoder,
    wire_time,
)
from iocd.store.filters import Compiler, Field
from iocd.store.mapping import date_encoder, split
from iocd.store.tables import alerts, devices, indicator_sightings, indicators

CHUNK = 500
"""Keys per IN (...) list: well under both backends' bound-parameter limits."""
KEY_CHUNK = 10_000
"""Dedupe keys per lookup (one bound value per key column, so no parameter limit)."""
_a = alerts.c
_REPEAT_COLUMNS = (_a.id, _a.indicator_id, _a.device_id, _a.entity)
_REPEAT_TALLY = (_a.occurrences, _a.historical)
"""What `open_alerts` reads: the key, the event times, then these and the first evidence's
times (what repeats change; the decision is not read)."""

ALERT_COLUMNS: dict[str, Field] = {
    "id": Field(_a.id, "int", False),
    "indicatorId": Field(_a.indicator_id, "int", False),
    "title": Field(_a.title, "text", False),
    "description": Field(_a.description, "text", False),
    "severity": Field(_a.severity, "text", False),
    "status": Field(_a.status, "text", False),
    "classification": Field(_a.classification, "text", True),
    "determination": Field(_a.determination, "text", True),
    "assignedTo": Field(_a.assigned_to, "text", True),
    "category": Field(_a.category, "text", True),
    "mitreTechniques": Field(_a.mitre_techniques, "collection", False),
    "detectionSource": Field(_a.detection_source, "text", False),
    "threatName": Field(_a.threat_name, "text", True),
    "machineId": Field(_a.device_id, "text", False),
    "computerDnsName": Field(_a.computer_dns_name, "text", False),
    "rbacGroupName": Field(_a.rbac_group_name, "text", False),
    "entityType": Field(_a.entity_type, "text", False),
    "entity": Field(_a.entity, "text", False),
    "alertCreationTime": Field(_a.created_at, "datetime", False),
    "lastUpdateTime": Field(_a.last_updated_at, "datetime", False),
    "firstEventTime": Field(_a.first_event_time, "datetime", False),
    "lastEventTime": Field(_a.last_event_time, "datetime", False),
    "resolvedTime": Field(_a.resolved_at, "datetime", True),
    "historical": Field(_a.historical, "bool", False),
    "occurrences": Field(_a.occurrences, "int", False),
}
"""Wire field -> column; the same names as domain.alerts.ALERT_FIELDS."""


def _device_from_row(row: Any) -> Device:
    m = row._mapping
    return Device(
        m["device_id"], m["first_seen"], m["last_seen"], m["name"], m["group_name"], m["os"]
    )


def _chunks(items: Sequence[Any], size: int = CHUNK) -> list[list[Any]]:
    iterator = iter(items)
    out = []
    while chunk := list(islice(iterator, size)):
        out.append(chunk)
    return out


AppendAudit = Callable[[Sequence[AuditEntry]], None]
Bump = Callable[[str, int], int]


class SqlAlerts:
    """AlertsTransaction over one connection inside an open database transaction."""

    def __init__(
        self, connection: Connection, append_audit: AppendAudit, bump: Bump, compiler: Compiler
    ) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name
        self._encode = date_encoder(self._dialect)
        self._stored_time = time_encoder(self._dialect)
        self.statements = statements(connection.dialect)
        self._append_audit = append_audit
        self._bump = bump
        self._compiler = compiler

    # -- helpers ------------------------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    def _least(self, a: Any, b: Any) -> Any:
        return func.least(a, b) if self._dialect == "postgresql" else func.min(a, b)

    def _greatest(self, a: Any, b: Any) -> Any:
        return func.greatest(a, b) if self._dialect == "postgresql" else func.max(a, b)

    # -- alerts -------------------------------------------------------------------------------

    def allocate_ids(self, count: int) -> int:
        return self._bump("alert_id", count) - count + 1

    def open_alerts(
        self, keys: Sequence[DedupeKey], since: datetime
    ) -> dict[DedupeKey, AlertRepeats]:
        found: dict[DedupeKey, AlertRepeats] = {}
        evidence_times = self._first_evidence_times()
        sqlite_ = self._dialect != "postgresql"
        # SQLite holds the event times as microseconds: read as stored, not as datetimes.
        times = (
            [type_coerce(c, BigInteger) for c in (_a.first_event_time, _a.last_event_time)]
            if sqlite_
            else [_a.first_event_time, _a.last_event_time]
        )
        for chunk in _chunks(sorted(set(keys)), KEY_CHUNK):
            listed, matches = self._key_list(chunk)
            stmt = (
                select(*_REPEAT_COLUMNS, *times, *_REPEAT_TALLY, *evidence_times)
                .select_from(listed.join(alerts, matches))
                .where(
                    _a.status != AlertStatus.RESOLVED.value,
                    _a.last_event_time >= since,
                )
                .order_by(_a.id)
            )
            for row in self._conn.execute(stmt):
                alert_id, indicator, device, entity, first, last, count, historical, ev, seen = row
                key = (indicator, device, entity)
                found[key] = AlertRepeats(  # id order: the newest wins
                    alert_id,
                    key,
                    first if sqlite_ else micros(first),
                    last if sqlite_ else micros(last),
                    count,
                    bool(historical),
                    None if ev is None else micros(wire_time(ev)),
                    None if seen is None else micros(wire_time(seen)),
                )
        return found

    def _key_list(self, keys: list[DedupeKey]) -> tuple[Any, ColumnElement[bool]]:
        """The keys as a table-valued parameter (a JSON array on SQLite, arrays on
        PostgreSQL) and the join condition on `alerts`' dedupe index: one bound value per
        column, so the statement compiles once and each key is an index lookup."""
        if self._dialect == "postgresql":
            ids, devices_, entities = (list(column) for column in zip(*keys, strict=True))
            listed = (
                func.unnest(
                    literal(ids, ARRAY(BigInteger)),
                    literal(devices_, ARRAY(Text)),
                    literal(entities, ARRAY(Text)),
                )
                .table_valued("i", "d", "e")
                .render_derived(name="k")
            )
            parts: tuple[Any, ...] = (listed.c.i, listed.c.d, listed.c.e)
        else:
            listed = func.json_each(literal(json_text(keys))).table_valued("value").alias("k")
            parts = tuple(func.json_extract(listed.c.value, f"$[{n}]") for n in range(3))
        matches = and_(_a.indicator_id == parts[0], _a.device_id == parts[1], _a.entity == parts[2])
        return listed, matches

    def _first_evidence_times(self) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
        """The first evidence's creation and last-seen times, as the JSON text holds them."""
        if self._dialect == "postgresql":
            document = cast(_a.evidence, JSONB)
            return (
                func.jsonb_extract_path_text(document, "0", "evidenceCreationTime"),
                func.jsonb_extract_path_text(document, "0", "lastSeenTime"),
            )
        return (
            func.json_extract(_a.evidence, "$[0].evidenceCreationTime"),
            func.json_extract(_a.evidence, "$[0].lastSeenTime"),
        )

    def alert_sources(self, indicator_ids: Sequence[int]) -> dict[int, AlertSource]:
        i = indicators.c
        columns = (
            i.id,
            i.title,
            i.description,
            i.severity,
            i.category,
            i.mitre_techniques,
            i.recommended_actions,
            i.created_by,
        )
        found: dict[int, AlertSource] = {}
        for chunk in _chunks(sorted(set(indicator_ids)), KEY_CHUNK):
            if self._dialect == "postgresql":
                wanted = i.id == func.any(literal(chunk, ARRAY(BigInteger)))
            else:
                listed = func.json_each(literal(json.dumps(chunk))).table_valued("value")
                wanted = i.id.in_(select(listed.c.value))
            for row in self._conn.execute(select(*columns).where(wanted)):
                ident, title, description, severity, category, techniques, actions, by = row
                found[ident] = AlertSource(
                    ident,
                    title,
                    description,
                    SEVERITIES[severity],
                    category,
                    split(techniques),
                    actions,
                    by,
                )
        return found

    def record_repeats(self, repeats: Sequence[AlertRepeats], updated_at: datetime) -> None:
        latest = {r.alert_id: r for r in repeats}
        if not latest:
            return
        updated = self._encode(updated_at)
        stored = self._stored_time
        rows = []
        for r in latest.values():
            ev = seen = None
            seen_from, seen_to = r.evidence_micros, r.evidence_seen_micros
            if r.evidence_moved and seen_from is not None and seen_to is not None:
                ev, seen = (
                    format_datetime(from_micros(seen_from)),
                    format_datetime(from_micros(seen_to)),
                )
            decision = None if r.decision is None else decision_text(r.decision)
            rows.append(
                (
                    stored(r.first_micros),
                    stored(r.last_micros),
                    r.occurrences,
                    r.historical,
                    updated,
                    decision,
                    ev,
                    ev,
                    seen,
                    r.alert_id,
                )
            )
        written = self._conn.exec_driver_sql(self.statements[2], rows).rowcount
        if written != len(rows):  # the caller's transaction rolls back
            missing = sorted(set(latest) - self._existing(list(latest)))
            raise ValueError(f"alert id {missing[0] if missing else '?'} does not exist")

    def insert(self, alerts_: Sequence[Alert]) -> None:
        if alerts_:
            rows = [alert_row(a, self._encode) for a in alerts_]
            self._insert_rows([a.id for a in alerts_], rows)

    def insert_new(self, new: NewAlerts) -> None:
        if len(new):
            self._insert_rows(new.ids, new_alert_rows(new, self._encode, self._stored_time))

    def _insert_rows(self, ids: list[int], rows: list[tuple[Any, ...]]) -> None:
        if len(set(ids)) != len(ids) or self._existing(ids):
            raise ValueError("insert conflicts with stored alerts")
        self._conn.exec_driver_sql(self.statements[0], rows)

    def _existing(self, ids: Sequence[int]) -> set[int]:
        out: set[int] = set()
        for chunk in _chunks(sorted(set(ids))):
            out.update(self._conn.execute(select(_a.id).where(_a.id.in_(chunk))).scalars())
        return out

    def update(self, alerts_: Sequence[Alert]) -> None:
        latest = {a.id: a for a in alerts_}
        if not latest:
            return
        missing = sorted(set(latest) - self._existing(list(latest)))
        if missing:
            raise ValueError(f"alert id {missing[0]} does not exist")
        rows = []
        for alert in latest.values():
            row = alert_row(alert, self._encode)
            rows.append((*row[1:], row[0]))  # SET every column but id, WHERE id
        self._conn.exec_driver_sql(self.statements[1], rows)

    def get(self, alert_id: int) -> Alert | None:
        row = self._conn.execute(select(alerts).where(_a.id == alert_id)).first()
        return alert_from_row(row) if row is not None else None

    def _conditions(self, query: AlertQuery) -> list[ColumnElement[bool]]:
        terms: list[ColumnElement[bool]] = []
        sight = query.sight
        if sight.kind is Visibility.OWN:
            terms.append(_a.indicator_created_by == sight.owner)
        elif sight.kind is Visibility.GROUPS:
            groups = sorted(sight.groups)
            terms.append(_a.rbac_group_name.in_(groups) if groups else false())
        if query.where is not None:
            terms.append(self._compiler.expr(query.where))
        if query.after_id is not None:
            terms.append(_a.id > query.after_id)
        return terms

    def list(self, query: AlertQuery) -> builtins.list[Alert]:
        stmt = (
            select(alerts)
            .where(*self._conditions(query))
            .order_by(*self._compiler.order_by(query))  # type: ignore[arg-type]
            .offset(query.skip)
            .limit(query.top)
        )
        return [alert_from_row(row) for row in self._conn.execute(stmt)]

    def count(self, query: AlertQuery) -> int:
        stmt = select(func.count()).select_from(alerts).where(*self._conditions(query))
        return int(self._conn.execute(stmt).scalar_one())

    def count_by(
        self, query: AlertQuery, fields: Sequence[str]
    ) -> dict[tuple[str | None, ...], int]:
        return alert_counts.count_by(self._conn, self._compiler, self._conditions(query), fields)

    def count_per_day(self, query: AlertQuery, since: datetime, days: int) -> builtins.list[int]:
        return alert_counts.count_per_day(self._conn, self._conditions(query), since, days)

    # -- sightings ----------------------------------------------------------------------------

    def record_sightings(self, sightings: SightingColumns) -> None:
        sighting_rows.record_sightings(self._conn, sightings)

    def sightings(self, indicator_ids: Sequence[int]) -> dict[int, Sightings]:
        c = indicator_sightings.c
        out: dict[int, Sightings] = {}
        for chunk in _chunks(sorted(set(indicator_ids))):
            for row in self._conn.execute(
                select(indicator_sightings).where(c.indicator_id.in_(chunk))
            ):
                m = row._mapping
                out[m["indicator_id"]] = Sightings(
                    m["indicator_id"],
                    m["count"],
                    m["device_count"],
                    m["first_seen"],
                    m["last_seen"],
                )
        return out

    # -- devices ------------------------------------------------------------------------------

    def upsert_devices(self, devices_: Sequence[Device]) -> None:
        merged: dict[str, Device] = {}
        for device in devices_:
            known = merged.get(device.device_id)
            merged[device.device_id] = device if known is None else widen_device(known, device)
        if not merged:
            return
        stmt = self._insert(devices)
        c, new = devices.c, stmt.excluded
        self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["device_id"],
                set_={
                    "name": func.coalesce(new.name, c.name),
                    "group_name": func.coalesce(new.group_name, c.group_name),
                    "os": func.coalesce(new.os, c.os),
                    "first_seen": self._least(c.first_seen, new.first_seen),
                    "last_seen": self._greatest(c.last_seen, new.last_seen),
                },
            ),
            [
                {
                    "device_id": d.device_id,
                    "name": d.name,
                    "group_name": d.group,
                    "os": d.os,
                    "first_seen": d.first_seen,
                    "last_seen": d.last_seen,
                }
                for d in sorted(merged.values(), key=lambda d: d.device_id)
            ],
        )

    def get_device(self, device_id: str) -> Device | None:
        row = self._conn.execute(select(devices).where(devices.c.device_id == device_id)).first()
        return _device_from_row(row) if row is not None else None

    def list_devices(self, limit: int, after: str | None = None) -> builtins.list[Device]:
        c = devices.c
        key = c.device_id.collate("C") if self._dialect == "postgresql" else c.device_id
        stmt = select(devices).order_by(key).limit(max(limit, 0))
        if after is not None:
            stmt = stmt.where(key > after)
        return [_device_from_row(row) for row in self._conn.execute(stmt)]

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        self._append_audit(entries)
