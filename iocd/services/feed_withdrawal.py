"""Withdrawing a feed's indicators: a soft delete, audited with the reason, of indicators the
feed owns only (createdBySource `Feed:<name>`); anything another feed or a person holds under
the same identity is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from iocd.clock import Clock
from iocd.domain.indicator import IdentityKey
from iocd.domain.principal import Principal
from iocd.services.deletion import record_deletions
from iocd.services.ports import Notifier, Store

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
                record_deletions(tx, owned, principal, now, reason)
                sequence = tx.last_sequence()
            total += len(owned)
            if self._notifier is not None:
                self._notifier.changed(sequence)
        return total
