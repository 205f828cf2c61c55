"""Alert rows as the SQL store writes and reads them: the `alerts` row of an alert (its
evidence, decision and comments as compact JSON text of their wire forms), the alert of a row,
and the driver-level statements that bypass SQLAlchemy's per-row processing for batches
(inserts, repeats). Identifiers come from the tables and are quoted by the
dialect; every value is a bound parameter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy.engine import Dialect

from iocd.domain.accounts import UNGROUPED
from iocd.domain.alerts import (
    Alert,
    AlertClassification,
    AlertDetermination,
    AlertStatus,
    comment_from_wire,
    comment_to_wire,
    evidence_from_wire,
    evidence_to_wire,
    evidence_wire_of_values,
)
from iocd.domain.decision import Decision
from iocd.domain.indicator import parse_datetime
from iocd.domain.instants import from_micros, wire_times
from iocd.domain.new_alerts import NewAlerts, evidence_span
from iocd.domain.scope import SEPARATOR
from iocd.domain.types import Severity
from iocd.policy.explain import decision_from_wire, decision_to_wire
from iocd.store.mapping import DateEncoder, split
from iocd.store.tables import alerts

TimeEncoder = Callable[[int], Any]
"""An instant in microseconds as the dialect stores it (`time_encoder`)."""

ROW_COLUMNS = tuple(alerts.c.keys())
"""The `alerts` columns in table order: the order of `alert_row`'s values."""

SEVERITIES = {m.value: m for m in Severity}
_STATUSES = {m.value: m for m in AlertStatus}
_CLASSIFICATIONS = {m.value: m for m in AlertClassification}
_DETERMINATIONS = {m.value: m for m in AlertDetermination}


def json_text(value: Any) -> str:
    """Compact JSON text, non-ASCII kept: orjson (an alert's evidence and decision are written
    for every alert a scan raises), the standard encoder for what orjson refuses (a lone
    surrogate, an integer past 64 bits). Both write the same text (tests/store)."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_DECISION_TEXTS: dict[int, tuple[Decision, str]] = {}
_DECISION_TEXTS_LIMIT = 65_536


def decision_text(decision: Decision) -> str:
    """The stored JSON text of a decision. The engine hands the same decision object to every
    alert its index decides alike, so the text is remembered per object (held, so its id
    cannot be reused while remembered)."""
    known = _DECISION_TEXTS.get(id(decision))
    if known is not None and known[0] is decision:
        return known[1]
    text = json_text(decision_to_wire(decision))
    if len(_DECISION_TEXTS) >= _DECISION_TEXTS_LIMIT:
        _DECISION_TEXTS.clear()
    _DECISION_TEXTS[id(decision)] = (decision, text)
    return text


_ROW_ORDER = (
    "id",
    "indicator_id",
    "device_id",
    "entity_type",
    "entity",
    "title",
    "description",
    "severity",
    "status",
    "classification",
    "determination",
    "assigned_to",
    "category",
    "mitre_techniques",
    "detection_source",
    "threat_name",
    "computer_dns_name",
    "rbac_group_name",
    "recommended_actions",
    "created_at",
    "last_updated_at",
    "first_event_time",
    "last_event_time",
    "resolved_at",
    "historical",
    "occurrences",
    "indicator_created_by",
    "evidence",
    "decision",
    "comments",
)
if ROW_COLUMNS != _ROW_ORDER:  # pragma: no cover - a changed table must change alert_row too
    raise RuntimeError(f"alert_row writes {_ROW_ORDER}, the table has {ROW_COLUMNS}")


def alert_row(alert: Alert, encode: DateEncoder) -> tuple[Any, ...]:
    """The `alerts` row of an alert as driver values in ROW_COLUMNS order (datetimes through
    `encode`, the dialect's storage form), for driver-level executemany. Written out as one
    tuple: a scan writes a row for every alert it raises."""
    a = alert
    return (
        a.id,
        a.indicator_id,
        a.machine_id,
        a.entity_type,
        a.entity,
        a.title,
        a.description,
        a.severity.value,
        a.status.value,
        a.classification.value if a.classification else None,
        a.determination.value if a.determination else None,
        a.assigned_to,
        a.category,
        SEPARATOR.join(a.mitre_techniques),
        a.detection_source,
        a.threat_name,
        a.computer_dns_name,
        a.rbac_group_name,
        a.recommended_actions,
        encode(a.created_at),
        encode(a.last_updated_at),
        encode(a.first_event_time),
        encode(a.last_event_time),
        None if a.resolved_at is None else encode(a.resolved_at),
        a.historical,
        a.occurrences,
        a.indicator_created_by,
        json_text([evidence_to_wire(e) for e in a.evidence]),
        decision_text(a.decision),
        json_text([comment_to_wire(c) for c in a.comments]) if a.comments else "[]",
    )


def time_encoder(dialect: str) -> TimeEncoder:
    """Microseconds as stored: as they are on SQLite, an aware datetime on PostgreSQL."""
    return from_micros if dialect == "postgresql" else _as_stored


def _as_stored(value: int) -> int:
    return value


def new_alert_rows(
    new: NewAlerts, encode: DateEncoder, stored: TimeEncoder
) -> list[tuple[Any, ...]]:
    """`alert_row` of each of `new.alerts()`, made without the `Alert` values and with every
    time formatted at once (`stored`: an event time in microseconds in the dialect's storage
    form). tests/store holds the two equal."""
    if not len(new):
        return []
    created = encode(new.created_at)
    spans = [evidence_span(r) for r in new.repeats]
    texts = wire_times([t for span in spans for t in span])
    status = AlertStatus.NEW.value
    rows = []
    for n, (alert_id, facts, f, repeats) in enumerate(new):
        _, device_id, entity = repeats.key
        assert repeats.decision is not None  # a new alert's tally holds its latest decision
        times = (texts[2 * n], texts[2 * n + 1])
        evidence = evidence_wire_of_values(facts.entity_type, entity, facts.values, times)
        rows.append(
            (
                alert_id,
                f.indicator_id,
                device_id,
                facts.entity_type,
                entity,
                f.title,
                f.description,
                f.severity.value,
                status,
                None,
                None,
                None,
                f.category,
                SEPARATOR.join(f.mitre_techniques),
                facts.detection_source,
                None,
                facts.device_name or device_id,
                facts.device_group or UNGROUPED,
                f.recommended_actions,
                created,
                created,
                stored(repeats.first_micros),
                stored(repeats.last_micros),
                None,
                repeats.historical,
                repeats.occurrences,
                f.created_by,
                json_text([evidence]),
                decision_text(repeats.decision),
                "[]",
            )
        )
    return rows


def alert_from_row(row: Any) -> Alert:
    m = row._mapping
    techniques = m["mitre_techniques"]
    return Alert(
        id=m["id"],
        indicator_id=m["indicator_id"],
        title=m["title"],
        description=m["description"],
        severity=SEVERITIES[m["severity"]],
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
        mitre_techniques=split(techniques),
        detection_source=m["detection_source"],
        threat_name=m["threat_name"],
        recommended_actions=m["recommended_actions"],
        resolved_at=m["resolved_at"],
        historical=bool(m["historical"]),
        occurrences=m["occurrences"],
        comments=tuple(comment_from_wire(c) for c in json.loads(m["comments"])),
    )


def wire_time(text: str) -> datetime:
    """A time of the stored evidence JSON: `format_datetime` wrote it, which the standard
    parser reads directly (anything else goes through the strict parser)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return parse_datetime("evidence time", text)
    return parsed if parsed.tzinfo is not None else parse_datetime("evidence time", text)


@lru_cache(maxsize=8)
def statements(dialect: Dialect) -> tuple[str, str, str]:
    """(INSERT of a whole row, UPDATE of every column but id by id, UPDATE of what repeats
    change by id) in the driver's parameter style: executemany over plain tuples, no per-row
    SQLAlchemy processing. Identifiers come from the table and are quoted by the dialect;
    every value is a bound parameter."""
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    quote = dialect.identifier_preparer.quote
    table = quote(alerts.name)
    names = ", ".join(map(quote, ROW_COLUMNS))
    marks = ", ".join([mark] * len(ROW_COLUMNS))
    sets = ", ".join(f"{quote(c)} = {mark}" for c in ROW_COLUMNS[1:])
    repeated = ", ".join(
        f"{quote(c)} = {mark}"
        for c in ("first_event_time", "last_event_time", "occurrences", "historical")
    )
    evidence, decision = quote("evidence"), quote("decision")
    if dialect.name == "postgresql":
        moved = (
            f"jsonb_set(jsonb_set({evidence}::jsonb, '{{0,evidenceCreationTime}}', "
            f"to_jsonb({mark}::text)), '{{0,lastSeenTime}}', to_jsonb({mark}::text))::text"
        )
        given = f"{mark}::text"
    else:
        moved = (
            f"json_set({evidence}, '$[0].evidenceCreationTime', {mark}, "
            f"'$[0].lastSeenTime', {mark})"
        )
        given = mark
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks})",
        f"UPDATE {table} SET {sets} WHERE {quote(ROW_COLUMNS[0])} = {mark}",
        f"UPDATE {table} SET {repeated}, {quote('last_updated_at')} = {mark}, "
        f"{decision} = COALESCE({given}, {decision}), "
        f"{evidence} = CASE WHEN {given} IS NULL THEN {evidence} ELSE {moved} END "
        f"WHERE {quote(ROW_COLUMNS[0])} = {mark}",
    )
