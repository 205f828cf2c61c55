"""Recording soft deletions: the one way an indicator leaves the list by someone's act (a
delete through any door, a feed withdrawing what it no longer lists). Expiry has its own path
(IndicatorService.sweep_expired)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from iocd.domain.history import AuditEntry, Change, ChangeKind
from iocd.domain.indicator import Indicator
from iocd.domain.principal import Principal
from iocd.domain.types import IndicatorState
from iocd.services.ports import StoreTransaction


def record_deletions(
    tx: StoreTransaction,
    targets: Sequence[Indicator],
    principal: Principal,
    now: datetime,
    reason: str | None = None,
) -> list[Indicator]:
    """Mark `targets` deleted in `tx`, each with the next change-sequence value, a change row
    and an audit row (with `reason` when given); returns the deleted versions."""
    first = tx.allocate_sequence(len(targets))
    deleted = [
        replace(
            indicator,
            state=IndicatorState.DELETED,
            sequence=first + n,
            state_changed_at=now,
            last_updated_at=now,
            last_updated_by=principal.name,
        )
        for n, indicator in enumerate(targets)
    ]
    tx.update(deleted)
    tx.append_changes([Change(i.sequence, i.id, ChangeKind.DELETED, now) for i in deleted])
    changes: dict[str, object] = {"state": ["active", "deleted"]}
    if reason is not None:
        changes["reason"] = reason
    tx.append_audit(
        [
            AuditEntry(
                now,
                principal.name,
                principal.door,
                "deleted",
                i.id,
                dict(changes),
                sequence=i.sequence,
            )
            for i in deleted
        ]
    )
    return deleted
