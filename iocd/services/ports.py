"""The small interfaces the services need from storage and the outside world.

Concrete adapters (store.memory, store.sql, reference.warninglists) are chosen only in the
composition roots. Every store passes the one contract suite in tests/contract/.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from iocd.domain.accounts import Application, DeviceGroup, PersonalToken, User
from iocd.domain.history import AuditEntry, Change
from iocd.domain.indicator import IdentityKey, Indicator
from iocd.domain.query import IndicatorQuery
from iocd.domain.types import IndicatorType

__all__ = ["AccountsTransaction", "IdentityKey", "KnownBenign", "Store", "StoreTransaction"]


class StoreTransaction(Protocol):
    """One atomic unit of work. Everything written inside commits together or not at all."""

    def get(self, indicator_id: int) -> Indicator | None:
        """Any indicator by id, whatever its state."""
        ...

    def find_by_identity(self, keys: Sequence[IdentityKey]) -> dict[IdentityKey, Indicator]:
        """Indicators whose stored state is active (they may be past expiry), by identity."""
        ...

    def find_by_external_id(
        self, created_by: str, external_ids: Sequence[str]
    ) -> dict[str, Indicator]:
        """Stored-active indicators of one creator by externalId."""
        ...

    def allocate_ids(self, count: int) -> int:
        """Reserve `count` new indicator ids; returns the first. Ids are never reused."""
        ...

    def allocate_sequence(self, count: int) -> int:
        """Reserve the next `count` values of the change sequence; returns the first.

        Gap-free: a rolled-back transaction gives its values back.
        """
        ...

    def insert(self, indicators: Sequence[Indicator]) -> None: ...

    def update(self, indicators: Sequence[Indicator]) -> None:
        """Replace stored indicators (matched by id) with these versions."""
        ...

    def append_changes(self, changes: Sequence[Change]) -> None: ...

    def append_audit(self, entries: Sequence[AuditEntry]) -> None: ...

    def active_count(self) -> int:
        """Indicators whose stored state is active (a counter, not a scan)."""
        ...

    def due_for_expiry(self, now: datetime, limit: int) -> list[Indicator]:
        """Stored-active indicators whose expiry is at or before `now`, oldest expiry first."""
        ...

    def list(self, query: IndicatorQuery, now: datetime) -> builtins.list[Indicator]: ...

    def count(self, query: IndicatorQuery, now: datetime) -> int: ...

    def audit_for(self, indicator_id: int) -> builtins.list[AuditEntry]:
        """The audit entries of one indicator, oldest first."""
        ...

    def changes_since(self, sequence: int, limit: int) -> builtins.list[Change]:
        """Changes with a sequence value greater than `sequence`, in order."""
        ...

    def last_sequence(self) -> int: ...


class AccountsTransaction(Protocol):
    """Applications, users, personal tokens, device groups and instance settings.

    `put_*` inserts or replaces by natural key (client id, user name, token id, group name).
    Listings are ordered by that key (groups: by rank, then name).
    """

    def put_application(self, application: Application) -> None: ...

    def get_application(self, client_id: str) -> Application | None: ...

    def list_applications(self) -> builtins.list[Application]: ...

    def put_user(self, user: User) -> None: ...

    def get_user(self, name: str) -> User | None: ...

    def list_users(self) -> builtins.list[User]: ...

    def put_token(self, token: PersonalToken) -> None: ...

    def get_token(self, token_id: str) -> PersonalToken | None: ...

    def list_tokens(self, user_name: str) -> builtins.list[PersonalToken]: ...

    def put_group(self, group: DeviceGroup) -> None: ...

    def get_group(self, name: str) -> DeviceGroup | None: ...

    def list_groups(self) -> builtins.list[DeviceGroup]: ...

    def delete_group(self, name: str) -> bool:
        """Remove a group; False if there was none."""
        ...

    def get_setting(self, key: str) -> str | None: ...

    def put_setting(self, key: str, value: str) -> None: ...

    def append_audit(self, entries: Sequence[AuditEntry]) -> None: ...

    def recent_audit(self, limit: int, before_id: int | None = None) -> builtins.list[AuditEntry]:
        """The newest audit entries first (all kinds), for the audit-log views."""
        ...


class Store(Protocol):
    def transaction(self, readonly: bool = False) -> AbstractContextManager[StoreTransaction]:
        """A unit of work; commits on normal exit, rolls back on an exception.

        Writers are serialised from the start of their transaction (that keeps the change
        sequence gap-free); `readonly=True` takes no write lock, for pure reads.
        """
        ...

    def accounts(self, readonly: bool = False) -> AbstractContextManager[AccountsTransaction]:
        """A unit of work over accounts; commits on normal exit, rolls back on an exception."""
        ...

    def iterate(
        self, query: IndicatorQuery, now: datetime, batch: int = 5000
    ) -> Iterator[Indicator]:
        """Every indicator matching the query (ignoring skip/top) in id order, in bounded memory."""
        ...


class KnownBenign(Protocol):
    """Reference data of things known to be benign (MISP warninglists, trusted software)."""

    def reason(self, indicator_type: IndicatorType, value: str) -> str | None:
        """Why the value is known benign, or None."""
        ...
