"""AlertsTransaction over SQL: the same behaviour as store.memory.MemoryAlerts, durably.

An `SqlAlerts` works inside a transaction opened by `SqlStore.alerts()` (sql.py), which is
`SqlStore.transaction()` itself: the same commit/rollback and writer serialisation. Alert ids
come from the counters row 'alert_id'. Evidence, comments and the decision are stored as the
JSON text of their wire forms (domain.alerts, policy.explain).

Every write takes a batch and issues a fixed number of statements, whatever its size:
`record_sightings` runs for every scanned telemetry batch, so it is an executemany upsert of
the (indicator, device) pairs, one of the per-indicator totals, and one UPDATE of the device
counts. Upserts are INSERT ... ON CONFLICT DO UPDATE (both backends speak it); rows are merged
per key first, since one statement may not touch a row twice.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    false,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from iocd.domain.alerts import (
    Alert,
    AlertClassification,
    AlertDetermination,
    AlertQuery,
    AlertStatus,
    DedupeKey,
    comment_from_wire,
    comment_to_wire,
    evidence_from_wire,
    evidence_to_wire,
)
from iocd.domain.devices import Device, Sighting, Sightings, aggregate_sightings, widen_device
from iocd.domain.history import AuditEntry
from iocd.domain.query import Visibility
from iocd.domain.scope import SEPARATOR
from iocd.domain.types import Severity
from iocd.policy.explain import decision_from_wire, decision_to_wire
from iocd.store import alert_counts
from iocd.store.filters import Compiler, Field
from iocd.store.mapping import DateEncoder, date_encoder
from iocd.store.tables import alerts, devices, indicator_sightings, sighting_devices

CHUNK = 500
"""Keys per IN (...) list: well under both backends' bound-parameter limits."""
ROW_COLUMNS = tuple(alerts.c.keys())
"""The `alerts` columns in table order: the order of `alert_row`'s values."""
_DATES = ("created_at", "last_updated_at", "first_event_time", "last_event_time", "resolved_at")
_in_row_order = itemgetter(*ROW_COLUMNS)

_a = alerts.c
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

_SEVERITIES = {m.value: m for m in Severity}
_STATUSES = {m.value: m for m in AlertStatus}
_CLASSIFICATIONS = {m.value: m for m in AlertClassification}
_DETERMINATIONS = {m.value: m for m in AlertDetermination}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def alert_values(alert: Alert) -> dict[str, Any]:
    """The `alerts` row of an alert (datetimes left to UtcDateTime)."""
    return {
        "id": alert.id,
        "indicator_id": alert.indicator_id,
        "device_id": alert.machine_id,
        "entity_type": alert.entity_type,
        "entity": alert.entity,
        "title": alert.title,
        "description": alert.description,
        "severity": alert.severity.value,
        "status": alert.status.value,
        "classification": alert.classification.value if alert.classification else None,
        "determination": alert.determination.value if alert.determination else None,
        "assigned_to": alert.assigned_to,
        "category": alert.category,
        "mitre_techniques": SEPARATOR.join(alert.mitre_techniques),
        "detection_source": alert.detection_source,
        "threat_name": alert.threat_name,
        "computer_dns_name": alert.computer_dns_name,
        "rbac_group_name": alert.rbac_group_name,
        "recommended_actions": alert.recommended_actions,
        "created_at": alert.created_at,
        "last_updated_at": alert.last_updated_at,
        "first_event_time": alert.first_event_time,
        "last_event_time": alert.last_event_time,
        "resolved_at": alert.resolved_at,
        "historical": alert.historical,
        "occurrences": alert.occurrences,
        "indicator_created_by": alert.indicator_created_by,
        "evidence": _dumps([evidence_to_wire(e) for e in alert.evidence]),
        "decision": _dumps(decision_to_wire(alert.decision)),
        "comments": _dumps([comment_to_wire(c) for c in alert.comments]),
    }


def alert_row(alert: Alert, encode: DateEncoder) -> tuple[Any, ...]:
    """The `alerts` row of an alert as driver values in ROW_COLUMNS order (datetimes through
    `encode`, the dialect's storage form), for driver-level executemany."""
    values = alert_values(alert)
    for name in _DATES:
        value = values[name]
        if value is not None:
            values[name] = encode(value)
    row: tuple[Any, ...] = _in_row_order(values)
    return row


def alert_from_row(row: Any) -> Alert:
    m = row._mapping
    techniques = m["mitre_techniques"]
    return Alert(
        id=m["id"],
        indicator_id=m["indicator_id"],
        title=m["title"],
        description=m["description"],
        severity=_SEVERITIES[m["severity"]],
        status=_STATUSES[m["status"]],
        machine_id=m["device_id"],
        computer_dns_name=m["computer_dns_name"],
        rbac_group_name=m["rbac_group_name"],
        entity_type=m["entity_type"],
        entity=m["entity"],
        created_at=m["created_at"],
        last_updated_at=m["last_updated_at"],
        first_event_time=m["first_event_time"],
        last_event_time=m["last_event_time"],
        evidence=tuple(evidence_from_wire(e) for e in json.loads(m["evidence"])),
        decision=decision_from_wire(json.loads(m["decision"])),
        indicator_created_by=m["indicator_created_by"],
        classification=_CLASSIFICATIONS.get(m["classification"]),
        determination=_DETERMINATIONS.get(m["determination"]),
        assigned_to=m["assigned_to"],
        category=m["category"],
        mitre_techniques=tuple(techniques.split(SEPARATOR)) if techniques else (),
        detection_source=m["detection_source"],
        threat_name=m["threat_name"],
        recommended_actions=m["recommended_actions"],
        resolved_at=m["resolved_at"],
        historical=bool(m["historical"]),
        occurrences=m["occurrences"],
        comments=tuple(comment_from_wire(c) for c in json.loads(m["comments"])),
    )


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


@lru_cache(maxsize=8)
def _statements(dialect: Dialect) -> tuple[str, str]:
    """(INSERT of a whole row, UPDATE of every column but id by id) in the driver's parameter
    style: executemany over plain tuples, no per-row SQLAlchemy processing. Identifiers come
    from the table and are quoted by the dialect; every value is a bound parameter."""
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    table = quote(alerts.name)
    names = ", ".join(map(quote, ROW_COLUMNS))
    marks = ", ".join([mark] * len(ROW_COLUMNS))
    sets = ", ".join(f"{quote(c)} = {mark}" for c in ROW_COLUMNS[1:])
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks})",
        f"UPDATE {table} SET {sets} WHERE {quote(ROW_COLUMNS[0])} = {mark}",
    )


class SqlAlerts:
    """AlertsTransaction over one connection inside an open database transaction."""

    def __init__(
        self, connection: Connection, append_audit: AppendAudit, bump: Bump, compiler: Compiler
    ) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name
        self._encode = date_encoder(self._dialect)
        self._statements = _statements(connection.dialect)
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

    def find_open_duplicates(
        self, keys: Sequence[DedupeKey], since: datetime
    ) -> dict[DedupeKey, Alert]:
        found: dict[DedupeKey, Alert] = {}
        for chunk in _chunks(sorted(set(keys))):
            stmt = (
                select(alerts)
                .where(
                    tuple_(_a.indicator_id, _a.device_id, _a.entity).in_(chunk),
                    _a.status != AlertStatus.RESOLVED.value,
                    _a.last_event_time >= since,
                )
                .order_by(_a.id)
            )
            for row in self._conn.execute(stmt):
                alert = alert_from_row(row)
                found[alert.key] = alert  # id order: the newest wins
        return found

    def insert(self, alerts_: Sequence[Alert]) -> None:
        if not alerts_:
            return
        ids = [a.id for a in alerts_]
        if len(set(ids)) != len(ids) or self._existing(ids):
            raise ValueError("insert conflicts with stored alerts")
        rows = [alert_row(a, self._encode) for a in alerts_]
        self._conn.exec_driver_sql(self._statements[0], rows)

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
        self._conn.exec_driver_sql(self._statements[1], rows)

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

    def record_sightings(self, sightings: Sequence[Sighting]) -> None:
        pairs = aggregate_sightings(sightings)
        if not pairs:
            return
        pair_insert = self._insert(sighting_devices).on_conflict_do_nothing(
            index_elements=["indicator_id", "device_id"]
        )
        self._conn.execute(
            pair_insert, [{"indicator_id": s.indicator_id, "device_id": s.device_id} for s in pairs]
        )
        totals: dict[int, dict[str, Any]] = {}
        for s in pairs:
            t = totals.get(s.indicator_id)
            if t is None:
                totals[s.indicator_id] = {
                    "indicator_id": s.indicator_id,
                    "count": s.count,
                    "first_seen": s.first_seen,
                    "last_seen": s.last_seen,
                    "device_count": 0,
                }
            else:
                t["count"] += s.count
                t["first_seen"] = min(t["first_seen"], s.first_seen)
                t["last_seen"] = max(t["last_seen"], s.last_seen)
        stmt = self._insert(indicator_sightings)
        c, new = indicator_sightings.c, stmt.excluded
        self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["indicator_id"],
                set_={
                    "count": c.count + new.count,
                    "first_seen": self._least(c.first_seen, new.first_seen),
                    "last_seen": self._greatest(c.last_seen, new.last_seen),
                },
            ),
            list(totals.values()),
        )
        d = sighting_devices.c
        devices_seen = (
            select(func.count())
            .select_from(sighting_devices)
            .where(d.indicator_id == c.indicator_id)
            .scalar_subquery()
        )
        for chunk in _chunks(sorted(totals)):
            self._conn.execute(
                indicator_sightings.update()
                .where(c.indicator_id.in_(chunk))
                .values(device_count=devices_seen)
            )

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
