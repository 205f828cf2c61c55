"""Conversion between domain values and table rows, written for bulk speed.

Rows are plain dicts keyed by column name (for executemany); reading builds the frozen domain
dataclasses directly from result rows, looking enums up in dicts rather than calling the enum
constructors. Tuples are stored joined by '|' (see tables.py for the invariants).

Accounts rows are in `account_mapping`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from functools import lru_cache
from typing import Any

from sqlalchemy import Row

from iocd.domain.history import AuditEntry, Change, ChangeKind
from iocd.domain.indicator import (
    AUTHORITY_BY_NAME,
    AUTHORITY_NAMES,
    CreationRecord,
    Indicator,
    IndicatorFields,
    format_datetime,
)
from iocd.domain.scope import SEPARATOR, scope_key
from iocd.domain.types import Action, IndicatorState, IndicatorType, Severity
from iocd.store.tables import indicators
from iocd.store.types import to_micros

_TYPES = {m.value: m for m in IndicatorType}
_ACTIONS = {m.value: m for m in Action}
_SEVERITIES = {m.value: m for m in Severity}
_STATES = {m.value: m for m in IndicatorState}
_KINDS = {m.value: m for m in ChangeKind}


def split(text: str) -> tuple[str, ...]:
    return tuple(text.split(SEPARATOR)) if text else ()


DateEncoder = Callable[[datetime], Any]
"""Turns an aware datetime into what the driver stores (see types.UtcDateTime)."""


def date_encoder(dialect: str) -> DateEncoder:
    """The driver-level datetime form of a dialect, for statements that bypass SQLAlchemy types.

    SQLite: microseconds since the epoch, memoised (a batch repeats the same few instants).
    PostgreSQL: the aware datetime itself; naive datetimes are refused on both.
    """
    if dialect == "sqlite":
        return lru_cache(maxsize=4096)(to_micros)

    def aware(value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: iocd stores aware UTC datetimes only")
        return value

    return aware


INDICATOR_COLUMNS = (
    "id",
    "indicator_type",
    "value",
    "raw_value",
    "action",
    "title",
    "description",
    "severity",
    "generate_alert",
    "expiration_time",
    "recommended_actions",
    "application",
    "educate_url",
    "external_id",
    "category",
    "mitre_techniques",
    "rbac_group_names",
    "scope_key",
    "state",
    "created_by",
    "created_by_display_name",
    "created_by_source",
    "source_type",
    "created_at",
    "last_updated_at",
    "last_updated_by",
    "sequence",
    "override_justification",
    "state_changed_at",
    "authority",
)
"""Every `indicators` column, in the order of `indicator_values` and `indicator_from_row`."""

INDICATOR_SELECT = tuple(indicators.c[name] for name in INDICATOR_COLUMNS)
"""The columns to select for `indicator_from_row`, typed (datetimes decoded by UtcDateTime)."""


def indicator_values(indicator: Indicator, encode: DateEncoder) -> tuple[Any, ...]:
    """The `indicators` row of an indicator as a tuple in INDICATOR_COLUMNS order.

    Enum members go in as they are: they are str subclasses, and `.value` costs a descriptor
    call per field per row on bulk imports.
    """
    f = indicator.fields
    expiry, changed = f.expiration_time, indicator.state_changed_at
    return (
        indicator.id,
        f.indicator_type,
        f.value,
        f.raw_value,
        f.action,
        f.title,
        f.description,
        f.severity,
        f.generate_alert,
        None if expiry is None else encode(expiry),
        f.recommended_actions,
        f.application,
        f.educate_url,
        f.external_id,
        f.category,
        SEPARATOR.join(f.mitre_techniques),
        SEPARATOR.join(f.rbac_group_names),
        scope_key(f.rbac_group_names),
        indicator.state,
        indicator.created_by,
        indicator.created_by_display_name,
        indicator.created_by_source,
        indicator.source_type,
        encode(indicator.created_at),
        encode(indicator.last_updated_at),
        indicator.last_updated_by,
        indicator.sequence,
        indicator.override_justification,
        None if changed is None else encode(changed),
        AUTHORITY_NAMES[indicator.authority],
    )


GROUP_COLUMNS = ("indicator_id", "group_name")


def group_values(indicators: Sequence[Indicator]) -> list[tuple[int, str]]:
    """The `indicator_groups` rows of these indicators, in GROUP_COLUMNS order."""
    return [(i.id, name) for i in indicators for name in i.fields.rbac_group_names]


def indicator_from_row(row: Sequence[Any]) -> Indicator:
    """An Indicator from a row selected as `select(*INDICATOR_SELECT)` (INDICATOR_COLUMNS order)."""
    (
        id_,
        indicator_type,
        value,
        raw_value,
        action,
        title,
        description,
        severity,
        generate_alert,
        expiration_time,
        recommended_actions,
        application,
        educate_url,
        external_id,
        category,
        mitre_techniques,
        rbac_group_names,
        _scope_key,
        state,
        created_by,
        created_by_display_name,
        created_by_source,
        source_type,
        created_at,
        last_updated_at,
        last_updated_by,
        sequence,
        override_justification,
        state_changed_at,
        authority,
    ) = row
    fields = IndicatorFields(
        _TYPES[indicator_type],
        value,
        _ACTIONS[action],
        title,
        description,
        raw_value,
        _SEVERITIES[severity],
        bool(generate_alert),
        expiration_time,
        recommended_actions,
        application,
        educate_url,
        external_id,
        category,
        split(mitre_techniques),
        split(rbac_group_names),
    )
    return Indicator(
        id_,
        fields,
        _STATES[state],
        created_by,
        created_by_display_name,
        created_by_source,
        source_type,
        created_at,
        last_updated_at,
        last_updated_by,
        sequence,
        override_justification,
        state_changed_at,
        AUTHORITY_BY_NAME[authority],
    )


CHANGE_COLUMNS = ("sequence", "indicator_id", "kind", "at")


def change_values(change: Change, encode: DateEncoder) -> tuple[Any, ...]:
    return (change.sequence, change.indicator_id, change.kind, encode(change.at))


def change_from_row(row: Row[Any]) -> Change:
    m = row._mapping
    return Change(m["sequence"], m["indicator_id"], _KINDS[m["kind"]], m["at"])


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} in an audit entry")


AUDIT_COLUMNS = (
    "at",
    "actor",
    "door",
    "action",
    "indicator_id",
    "changes",
    "justification",
    "sequence",
)
"""The `audit` columns we write (the id is the database's), in `audit_values` order."""


def _make_dumps() -> Callable[[Any], str]:
    """JSON text of an audit entry's changes, as json.dumps(ensure_ascii=False) writes it.

    The C encoder is made once and reused: JSONEncoder.encode builds a new one per call, which
    is half the cost of encoding an entry. Without circular-reference markers it keeps no state
    between calls, so threads may share it (the changes are plain trees, never cyclic).
    """
    slow = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        return slow
    fast = make(
        None, _json_default, json.encoder.encode_basestring, None, ": ", ", ", False, False, True
    )

    def dumps(value: Any) -> str:
        if isinstance(value, str):  # as JSONEncoder.encode does for a bare string
            return slow(value)
        return "".join(fast(value, 0))

    return dumps


_dumps = _make_dumps()
_quote = json.encoder.encode_basestring  # a str as JSON text, as ensure_ascii=False writes it
_CREATION_KEYS = ("indicatorType", "indicatorValue", "action")


def _changes_text(changes: dict[str, Any]) -> str:
    """The JSON text of an audit entry's changes; exactly _dumps(changes).

    A creation record of the usual shape (three text values, each after None) is written by
    formatting: a bulk import writes one per row, and walking it costs twice as much.
    """
    if type(changes) is CreationRecord and tuple(changes) == _CREATION_KEYS:
        (none1, kind), (none2, value), (none3, action) = changes.values()
        if (
            none1 is none2 is none3 is None
            and isinstance(kind, str)
            and isinstance(value, str)
            and isinstance(action, str)
        ):
            return (
                f'{{"indicatorType": [null, {_quote(kind)}], '
                f'"indicatorValue": [null, {_quote(value)}], "action": [null, {_quote(action)}]}}'
            )
    return _dumps(changes)


def audit_values(entry: AuditEntry, encode: DateEncoder) -> tuple[Any, ...]:
    """An `audit` row; `changes` is stored as JSON text."""
    return (
        encode(entry.at),
        entry.actor,
        entry.door,
        entry.action,
        entry.indicator_id,
        _changes_text(entry.changes),
        entry.justification,
        entry.sequence,
    )


def audit_from_row(row: Row[Any]) -> AuditEntry:
    m = row._mapping
    return AuditEntry(
        at=m["at"],
        actor=m["actor"],
        door=m["door"],
        action=m["action"],
        indicator_id=m["indicator_id"],
        changes=json.loads(m["changes"]),
        justification=m["justification"],
        sequence=m["sequence"],
        id=m["id"],
    )
