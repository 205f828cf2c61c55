"""Withdrawing a feed's indicators: a soft delete, audited with the reason, of indicators the
feed owns only (createdBySource `Feed:<name>`); anything another feed or a person holds under
the same identity is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from itertools import islice

from iocd.clock import Clock
from iocd.domain.history import AuditEntry, Change, ChangeKind
from iocd.domain.indicator import IdentityKey, Indicator
from iocd.domain.principal import Principal
from iocd.domain.types import IndicatorState
from iocd.services.ports import Notifier, Store, StoreTransaction

CHUNK = 5_000


def _chunks(keys: Iterable[IdentityKey], size: int) -> Iterator[list[IdentityKey]]:
    iterator = iter(keys)
    while chunk := list(islice(iterator, size)):
        yield chunk


class Withdrawal:
    def __init__(self, store: Store, clock: Clock, notifier: Notifier | None) -> None:
        self._store = store
        self._clock = clock
        self._notifier = notifier

    def withdraw(self, keys: Iterable[IdentityKey], principal: Principal, reason: str) -> int:
        """Withdraw the active indicators of these identities that `principal.door` (the feed)
        owns, in committed chunks; returns how many went."""
        total = 0
        for chunk in _chunks(keys, CHUNK):
            with self._store.transaction() as tx:
                now = self._clock.now()
                found = tx.find_by_identity(chunk)
                owned = [
                    i
                    for i in found.values()
                    if i.created_by_source == principal.door and i.is_active(now)
                ]
                if not owned:
                    continue
                self._record(tx, owned, principal, reason)
                sequence = tx.last_sequence()
            total += len(owned)
            if self._notifier is not None:
                self._notifier.changed(sequence)
        return total

    def _record(
        self,
        store_tx: StoreTransaction,
        targets: Sequence[Indicator],
        principal: Principal,
        reason: str,
    ) -> None:
        now = self._clock.now()
        first = store_tx.allocate_sequence(len(targets))
        withdrawn = [
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
        store_tx.update(withdrawn)
        store_tx.append_changes(
            [Change(i.sequence, i.id, ChangeKind.DELETED, now) for i in withdrawn]
        )
        store_tx.append_audit(
            [
                AuditEntry(
                    now,
                    principal.name,
                    principal.door,
                    "deleted",
                    i.id,
                    {"state": ["active", "deleted"], "reason": reason},
                    sequence=i.sequence,
                )
                for i in withdrawn
            ]
        )
