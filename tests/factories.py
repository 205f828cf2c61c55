"""Build domain objects for tests with sensible defaults; override only what a test is about.

`T0` is the tests' "now". Values are made unique per `n` so many indicators can be built
without identity clashes. `store_new` writes indicators the way the services do (ids and
sequence values allocated, change and audit rows appended) inside an open transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from iocd.domain.history import AuditEntry, Change, ChangeKind
from iocd.domain.indicator import Indicator, IndicatorFields
from iocd.domain.types import Action, IndicatorState, IndicatorType, Severity
from iocd.services.ports import StoreTransaction

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)

_VALUES = {
    IndicatorType.IP_ADDRESS: lambda n: f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
    IndicatorType.DOMAIN_NAME: lambda n: f"host{n}.example.com",
    IndicatorType.URL: lambda n: f"https://host{n}.example.com/path",
    IndicatorType.FILE_SHA256: lambda n: f"{n:064x}",
    IndicatorType.FILE_SHA1: lambda n: f"{n:040x}",
    IndicatorType.FILE_MD5: lambda n: f"{n:032x}",
    IndicatorType.CERTIFICATE_THUMBPRINT: lambda n: f"{n:040X}",
}


def value_for(indicator_type: IndicatorType, n: int) -> str:
    """A canonical-looking value of the type, distinct for each n."""
    return _VALUES[indicator_type](n)


def make_fields(
    n: int = 1,
    indicator_type: IndicatorType = IndicatorType.IP_ADDRESS,
    **overrides: Any,
) -> IndicatorFields:
    """IndicatorFields of a Block indicator whose value is derived from `n`."""
    value = overrides.pop("value", value_for(indicator_type, n))
    base = IndicatorFields(
        indicator_type=indicator_type,
        value=value,
        action=Action.BLOCK,
        title=f"indicator {n}",
        description=f"test indicator {n}",
        raw_value=value,
        severity=Severity.MEDIUM,
    )
    return replace(base, **overrides)


def make_indicator(
    indicator_id: int,
    fields: IndicatorFields | None = None,
    *,
    sequence: int | None = None,
    state: IndicatorState = IndicatorState.ACTIVE,
    created_by: str = "alice",
    at: datetime = T0,
    **meta: Any,
) -> Indicator:
    """A stored indicator as the services would write it (created and last updated `at`)."""
    return Indicator(
        id=indicator_id,
        fields=fields if fields is not None else make_fields(indicator_id),
        state=state,
        created_by=created_by,
        created_by_display_name=meta.pop("created_by_display_name", created_by.title()),
        created_by_source=meta.pop("created_by_source", "PublicApi"),
        source_type=meta.pop("source_type", "User"),
        created_at=at,
        last_updated_at=meta.pop("last_updated_at", at),
        last_updated_by=meta.pop("last_updated_by", created_by),
        sequence=sequence if sequence is not None else indicator_id,
        **meta,
    )


def make_audit(indicator_id: int | None, **overrides: Any) -> AuditEntry:
    base = AuditEntry(
        at=T0,
        actor="alice",
        door="PublicApi",
        action="create",
        indicator_id=indicator_id,
        changes={"title": [None, "t"]},
    )
    return replace(base, **overrides)


def store_new(
    tx: StoreTransaction,
    fields: Sequence[IndicatorFields],
    *,
    state: IndicatorState = IndicatorState.ACTIVE,
    created_by: str = "alice",
    at: datetime = T0,
) -> list[Indicator]:
    """Create indicators as the services do: ids, sequence values, rows, changes and audit."""
    if not fields:
        return []
    first_id = tx.allocate_ids(len(fields))
    first_seq = tx.allocate_sequence(len(fields))
    made = [
        make_indicator(
            first_id + n, f, sequence=first_seq + n, state=state, created_by=created_by, at=at
        )
        for n, f in enumerate(fields)
    ]
    tx.insert(made)
    tx.append_changes([Change(i.sequence, i.id, ChangeKind.CREATED, at) for i in made])
    tx.append_audit([make_audit(i.id, actor=created_by, at=at, sequence=i.sequence) for i in made])
    return made
