"""The in-memory store: the reference behaviour every other store must match (contract suite)."""

from __future__ import annotations

import bisect
import builtins
import copy
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import numpy as np
import pyarrow as pa

from iocd.domain.accounts import Application, DeviceGroup, PersonalToken, User
from iocd.domain.alerts import Alert
from iocd.domain.devices import Device, Sightings
from iocd.domain.history import AuditEntry, Change
from iocd.domain.indicator import IdentityKey, Indicator
from iocd.domain.query import FIELDS, IndicatorQuery, matches, visible
from iocd.domain.sessions import Session
from iocd.domain.types import IndicatorState
from iocd.domain.versions import Version, VersionQuery, change_selected, version_selected
from iocd.store.memory_agents import AgentState, MemoryAgents, policy_batches
from iocd.store.memory_alerts import MemoryAlerts, tally
from iocd.store.memory_investigations import InvestigationState, MemoryInvestigations
from iocd.store.output_rows import output_batches


@dataclass
class _State:
    indicators: dict[int, Indicator] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    next_id: int = 1
    next_sequence: int = 1
    applications: dict[str, Application] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, PersonalToken] = field(default_factory=dict)
    groups: dict[str, DeviceGroup] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    alerts: dict[int, Alert] = field(default_factory=dict)
    next_alert_id: int = 1
    devices: dict[str, Device] = field(default_factory=dict)
    sightings: dict[int, Sightings] = field(default_factory=dict)
    sighting_devices: set[tuple[int, str]] = field(default_factory=set)
    sessions: dict[str, Session] = field(default_factory=dict)
    agents: AgentState = field(default_factory=AgentState)
    investigations: InvestigationState = field(default_factory=InvestigationState)


def _sort_key(name: str, indicator: Indicator) -> tuple[bool, Any]:
    value = FIELDS[name](indicator)
    if isinstance(value, tuple):
        value = "|".join(value)
    return (value is not None, value)


def select(
    indicators: Sequence[Indicator], query: IndicatorQuery, now: datetime
) -> list[Indicator]:
    """Apply a query's visibility, state, filter and order; no paging."""
    rows = [
        i
        for i in indicators
        if (query.include_inactive or i.is_active(now))
        and visible(query.sight, i)
        and (query.where is None or matches(query.where, i))
        and (query.after_id is None or i.id > query.after_id)
    ]
    rows.sort(key=lambda i: i.id)
    for name, descending in reversed(query.order_by):
        rows.sort(key=lambda i, n=name: _sort_key(n, i), reverse=descending)  # type: ignore[misc]
    return rows


class MemoryTransaction:
    def __init__(self, state: _State) -> None:
        self._s = state

    def get(self, indicator_id: int) -> Indicator | None:
        return self._s.indicators.get(indicator_id)

    def _stored_active(self) -> Iterator[Indicator]:
        return (i for i in self._s.indicators.values() if i.state is IndicatorState.ACTIVE)

    def find_by_identity(self, keys: Sequence[IdentityKey]) -> dict[IdentityKey, Indicator]:
        wanted = set(keys)
        return {i.fields.identity: i for i in self._stored_active() if i.fields.identity in wanted}

    def find_by_external_id(
        self, created_by: str, external_ids: Sequence[str]
    ) -> dict[str, Indicator]:
        wanted = set(external_ids)
        return {
            i.fields.external_id: i
            for i in self._stored_active()
            if i.created_by == created_by and i.fields.external_id in wanted
        }

    def allocate_ids(self, count: int) -> int:
        first = self._s.next_id
        self._s.next_id += count
        return first

    def allocate_sequence(self, count: int) -> int:
        first = self._s.next_sequence
        self._s.next_sequence += count
        return first

    def insert(self, indicators: Sequence[Indicator]) -> None:
        for indicator in indicators:
            if indicator.id in self._s.indicators:
                raise ValueError(f"indicator id {indicator.id} exists")
            self._s.indicators[indicator.id] = indicator

    def update(self, indicators: Sequence[Indicator]) -> None:
        for indicator in indicators:
            if indicator.id not in self._s.indicators:
                raise ValueError(f"indicator id {indicator.id} does not exist")
            self._s.indicators[indicator.id] = indicator

    def append_changes(self, changes: Sequence[Change]) -> None:
        self._s.changes.extend(changes)

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        start = len(self._s.audit) + 1
        self._s.audit.extend(
            AuditEntry(**{**_entry_dict(e), "id": start + n}) for n, e in enumerate(entries)
        )

    def active_count(self) -> int:
        return sum(1 for _ in self._stored_active())

    def due_for_expiry(self, now: datetime, limit: int) -> list[Indicator]:
        due = [
            i
            for i in self._stored_active()
            if i.fields.expiration_time is not None and i.fields.expiration_time <= now
        ]
        due.sort(key=lambda i: (i.fields.expiration_time, i.id))
        return due[:limit]

    def list(self, query: IndicatorQuery, now: datetime) -> list[Indicator]:
        rows = select(list(self._s.indicators.values()), query, now)
        return rows[query.skip : query.skip + query.top]

    def count(self, query: IndicatorQuery, now: datetime) -> int:
        return len(select(list(self._s.indicators.values()), query, now))

    def count_by(
        self, query: IndicatorQuery, now: datetime, fields: Sequence[str]
    ) -> dict[tuple[str | None, ...], int]:
        getters = [FIELDS[name] for name in fields]
        rows = select(list(self._s.indicators.values()), query, now)
        return tally(tuple(get(i) for get in getters) for i in rows)

    def audit_for(self, indicator_id: int) -> builtins.list[AuditEntry]:
        return [e for e in self._s.audit if e.indicator_id == indicator_id]

    def changes_since(self, sequence: int, limit: int) -> builtins.list[Change]:
        return [c for c in self._s.changes if c.sequence > sequence][:limit]

    def last_sequence(self) -> int:
        return self._s.next_sequence - 1

    def versions(self, query: VersionQuery) -> builtins.list[Version]:
        changes = self._s.changes
        start = bisect.bisect_right(changes, query.after_sequence, key=lambda c: c.sequence)
        found: builtins.list[Version] = []
        for change in islice(changes, start, None):
            if len(found) >= query.limit:
                break
            indicator = self._s.indicators.get(change.indicator_id)
            if indicator is None or not change_selected(query, change):
                continue
            version = Version(indicator, change)
            if version_selected(query, version):
                found.append(version)
        return found


class MemoryAccounts:
    def __init__(self, state: _State) -> None:
        self._s = state

    def put_application(self, application: Application) -> None:
        self._s.applications[application.client_id] = application

    def get_application(self, client_id: str) -> Application | None:
        return self._s.applications.get(client_id)

    def list_applications(self) -> builtins.list[Application]:
        return [self._s.applications[k] for k in sorted(self._s.applications)]

    def put_user(self, user: User) -> None:
        self._s.users[user.name] = user

    def get_user(self, name: str) -> User | None:
        return self._s.users.get(name)

    def list_users(self) -> builtins.list[User]:
        return [self._s.users[k] for k in sorted(self._s.users)]

    def put_token(self, token: PersonalToken) -> None:
        self._s.tokens[token.token_id] = token

    def get_token(self, token_id: str) -> PersonalToken | None:
        return self._s.tokens.get(token_id)

    def list_tokens(self, user_name: str) -> builtins.list[PersonalToken]:
        return [t for k, t in sorted(self._s.tokens.items()) if t.user_name == user_name]

    def put_group(self, group: DeviceGroup) -> None:
        self._s.groups[group.name] = group

    def get_group(self, name: str) -> DeviceGroup | None:
        return self._s.groups.get(name)

    def list_groups(self) -> builtins.list[DeviceGroup]:
        return sorted(self._s.groups.values(), key=lambda g: (g.rank, g.name))

    def delete_group(self, name: str) -> bool:
        return self._s.groups.pop(name, None) is not None

    def get_setting(self, key: str) -> str | None:
        return self._s.settings.get(key)

    def put_setting(self, key: str, value: str) -> None:
        self._s.settings[key] = value

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        MemoryTransaction(self._s).append_audit(entries)

    def recent_audit(self, limit: int, before_id: int | None = None) -> builtins.list[AuditEntry]:
        rows = [e for e in self._s.audit if before_id is None or (e.id or 0) < before_id]
        return list(reversed(rows))[:limit]


class MemorySessions:
    def __init__(self, state: _State) -> None:
        self._s = state

    def put_session(self, session: Session) -> None:
        self._s.sessions[session.token_hash] = session

    def get_session(self, token_hash: str) -> Session | None:
        return self._s.sessions.get(token_hash)

    def delete_session(self, token_hash: str) -> bool:
        return self._s.sessions.pop(token_hash, None) is not None

    def purge_sessions(self, seen_before: datetime, created_before: datetime) -> int:
        gone = [
            k
            for k, s in self._s.sessions.items()
            if s.last_seen_at < seen_before or s.created_at < created_before
        ]
        for key in gone:
            del self._s.sessions[key]
        return len(gone)

    def get_user(self, name: str) -> User | None:
        return self._s.users.get(name)

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        MemoryTransaction(self._s).append_audit(entries)


def _entry_dict(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in entry.__slots__}


class MemoryStore:
    """A store in a dict. Transactions work on a copy, swapped in on commit (rollback is free)."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[MemoryTransaction]:
        """A unit of work on a copy of the state, swapped in on normal exit."""
        if readonly:
            with self._lock:
                yield MemoryTransaction(self._state)
            return
        with self._lock:
            working = copy.copy(self._state)
            working.indicators = dict(self._state.indicators)
            working.changes = list(self._state.changes)
            working.audit = list(self._state.audit)
            for name in (
                "applications",
                "users",
                "tokens",
                "groups",
                "settings",
                "alerts",
                "devices",
                "sightings",
                "sessions",
            ):
                setattr(working, name, dict(getattr(self._state, name)))
            working.sighting_devices = set(self._state.sighting_devices)
            working.agents = self._state.agents.copy()
            working.investigations = self._state.investigations.copy()
            yield MemoryTransaction(working)
            self._state = working

    @contextmanager
    def accounts(self, readonly: bool = False) -> Iterator[MemoryAccounts]:
        with self.transaction(readonly) as tx:
            yield MemoryAccounts(tx._s)

    @contextmanager
    def alerts(self, readonly: bool = False) -> Iterator[MemoryAlerts]:
        with self.transaction(readonly) as tx:
            yield MemoryAlerts(tx._s, tx.append_audit)

    @contextmanager
    def sessions(self, readonly: bool = False) -> Iterator[MemorySessions]:
        with self.transaction(readonly) as tx:
            yield MemorySessions(tx._s)

    @contextmanager
    def agents(self, readonly: bool = False) -> Iterator[MemoryAgents]:
        with self.transaction(readonly) as tx:
            yield MemoryAgents(tx._s.agents, tx.append_audit)

    @contextmanager
    def investigations(self, readonly: bool = False) -> Iterator[MemoryInvestigations]:
        with self.transaction(readonly) as tx:
            yield MemoryInvestigations(tx._s.investigations)

    def policy_rows(self, batch: int = 50_000) -> Iterator[tuple[int, pa.RecordBatch]]:
        with self._lock:
            indicators = list(self._state.indicators.values())
            sequence = self._state.next_sequence - 1
        return policy_batches(indicators, sequence, batch)

    def expiries(self) -> tuple[Any, Any]:
        with self._lock:
            found = [
                (i.id, i.fields.expiration_time.timestamp())
                for i in self._state.indicators.values()
                if i.state is IndicatorState.ACTIVE and i.fields.expiration_time is not None
            ]
        ids = np.array([i for i, _ in found], dtype=np.int64)
        return ids, np.array([t for _, t in found], dtype=np.float64)

    def output_rows(
        self, types: Sequence[str], actions: Sequence[str], now: datetime, **options: Any
    ) -> Iterator[list[tuple[Any, ...]]]:
        with self._lock:
            indicators = list(self._state.indicators.values())
        return output_batches(indicators, types, actions, now, **options)

    def iterate(
        self, query: IndicatorQuery, now: datetime, batch: int = 5000
    ) -> Iterator[Indicator]:
        with self._lock:
            rows = select(list(self._state.indicators.values()), query, now)
        rows.sort(key=lambda i: i.id)
        yield from rows
