"""The small interfaces the services need from storage and the outside world.

Concrete adapters (store.memory, store.sql, reference.warninglists) are chosen only in the
composition roots. Every store passes the one contract suite in tests/contract/.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

from iocd.domain.accounts import Application, DeviceGroup, PersonalToken, User
from iocd.domain.agents import AgentDevice, EnrollmentToken
from iocd.domain.alert_repeats import AlertRepeats
from iocd.domain.alert_sources import AlertSource
from iocd.domain.alerts import Alert, AlertQuery, DedupeKey
from iocd.domain.devices import Device, SightingColumns, Sightings
from iocd.domain.history import AuditEntry, Change
from iocd.domain.indicator import IdentityKey, Indicator
from iocd.domain.investigations import Investigation, RemediationTask, TaskStatus
from iocd.domain.new_alerts import NewAlerts
from iocd.domain.query import IndicatorQuery
from iocd.domain.sessions import Session
from iocd.domain.types import IndicatorType
from iocd.domain.versions import Version, VersionQuery

__all__ = [
    "AccountsTransaction",
    "AgentsTransaction",
    "AlertsTransaction",
    "IdentityKey",
    "InvestigationsTransaction",
    "KnownBenign",
    "Notifier",
    "SessionsTransaction",
    "Store",
    "StoreTransaction",
]


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

    def count_by(
        self, query: IndicatorQuery, now: datetime, fields: Sequence[str]
    ) -> dict[tuple[str | None, ...], int]:
        """How many indicators the query selects (ignoring skip, top and order) per distinct
        tuple of these text fields' wire values (e.g. indicatorType, action): one GROUP BY."""
        ...

    def audit_for(self, indicator_id: int) -> builtins.list[AuditEntry]:
        """The audit entries of one indicator, oldest first."""
        ...

    def changes_since(self, sequence: int, limit: int) -> builtins.list[Change]:
        """Changes with a sequence value greater than `sequence`, in order."""
        ...

    def last_sequence(self) -> int: ...

    def versions(self, query: VersionQuery) -> builtins.list[Version]:
        """The latest version of each indicator the query selects, in change-sequence order,
        at most `query.limit` (domain.versions); whatever the indicators' states."""
        ...


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


class AlertsTransaction(Protocol):
    """Alerts, the devices telemetry has shown, and indicator sightings.

    Alert ids come from their own counter (never reused). Listings are in id order unless the
    query orders otherwise (ties broken by id). Every write takes a batch and costs a fixed
    number of statements, whatever its size: sightings are recorded for every scanned batch.
    """

    def allocate_ids(self, count: int) -> int:
        """Reserve `count` new alert ids; returns the first."""
        ...

    def open_alerts(
        self, keys: Sequence[DedupeKey], since: datetime
    ) -> dict[DedupeKey, AlertRepeats]:
        """For each key, the repeats of the newest alert of that key that is not Resolved and
        whose last event is at or after `since` (keys without one are absent)."""
        ...

    def alert_sources(self, indicator_ids: Sequence[int]) -> dict[int, AlertSource]:
        """What alerts copy from these indicators, whatever their state (unknown ids are
        absent)."""
        ...

    def record_repeats(self, repeats: Sequence[AlertRepeats], updated_at: datetime) -> None:
        """Write what repeats changed on stored alerts (by `alert_id`): event times,
        occurrences, historical, the first evidence's times, the decision when one is given;
        `last_updated_at` becomes `updated_at`. An unknown id is a ValueError."""
        ...

    def insert_new(self, new: NewAlerts) -> None:
        """Add the alerts one raise created (ids from allocate_ids), as `insert` of
        `new.alerts()`; an id that exists is a ValueError."""
        ...

    def insert(self, alerts: Sequence[Alert]) -> None:
        """Add new alerts (ids from allocate_ids); an id that exists is a ValueError."""
        ...

    def update(self, alerts: Sequence[Alert]) -> None:
        """Replace stored alerts by id; an unknown id is a ValueError."""
        ...

    def get(self, alert_id: int) -> Alert | None: ...

    def list(self, query: AlertQuery) -> builtins.list[Alert]:
        """One page: visibility (query.sight), filter, order, keyset (after_id), skip and top."""
        ...

    def count(self, query: AlertQuery) -> int:
        """How many alerts the query selects, ignoring skip and top."""
        ...

    def count_by(
        self, query: AlertQuery, fields: Sequence[str]
    ) -> dict[tuple[str | None, ...], int]:
        """How many alerts the query selects per distinct tuple of these text fields' wire
        values (e.g. status, severity): one GROUP BY."""
        ...

    def count_per_day(self, query: AlertQuery, since: datetime, days: int) -> builtins.list[int]:
        """Alerts the query selects created in each of `days` consecutive 24-hour periods from
        `since` (index 0 is [since, since + 1 day)): one GROUP BY."""
        ...

    def record_sightings(self, sightings: SightingColumns) -> None:
        """Fold matches into each indicator's sightings: counts add up, first/last seen widen,
        and each device counts once per indicator however often it is reported (each pair
        appears once in `sightings`)."""
        ...

    def sightings(self, indicator_ids: Sequence[int]) -> dict[int, Sightings]:
        """The sightings of these indicators; those that never matched are absent."""
        ...

    def upsert_devices(self, devices: Sequence[Device]) -> None:
        """Add devices or widen what is known of them (first/last seen); a None field keeps the
        stored value, a given one replaces it."""
        ...

    def get_device(self, device_id: str) -> Device | None: ...

    def list_devices(self, limit: int, after: str | None = None) -> builtins.list[Device]:
        """Devices in device-id order, after `after` if given."""
        ...

    def append_audit(self, entries: Sequence[AuditEntry]) -> None: ...


class SessionsTransaction(Protocol):
    """Portal sessions (by the hash of their token), the users they belong to, and the audit
    log of sign-ins."""

    def put_session(self, session: Session) -> None:
        """Insert or replace by token hash."""
        ...

    def get_session(self, token_hash: str) -> Session | None: ...

    def delete_session(self, token_hash: str) -> bool:
        """Remove a session; False if there was none."""
        ...

    def purge_sessions(self, seen_before: datetime, created_before: datetime) -> int:
        """Remove sessions idle since before `seen_before` or created before `created_before`;
        returns how many went."""
        ...

    def get_user(self, name: str) -> User | None: ...

    def append_audit(self, entries: Sequence[AuditEntry]) -> None: ...


class AgentsTransaction(Protocol):
    """Enrolment tokens, enrolled agents and the report batches each agent has delivered.

    `put_*` inserts or replaces by key (token id, device id). Listings are ordered by that key.
    """

    def put_enrollment_token(self, token: EnrollmentToken) -> None: ...

    def get_enrollment_token(self, token_id: str) -> EnrollmentToken | None: ...

    def list_enrollment_tokens(self) -> builtins.list[EnrollmentToken]: ...

    def put_agent(self, agent: AgentDevice) -> None: ...

    def get_agent(self, device_id: str) -> AgentDevice | None: ...

    def list_agents(self) -> builtins.list[AgentDevice]: ...

    def report_seen(self, device_id: str, batch_id: str) -> bool:
        """Whether this device already delivered the report batch `batch_id`."""
        ...

    def add_report(self, device_id: str, batch_id: str, at: datetime) -> bool:
        """Remember a delivered report batch; False (and nothing written) if it was known."""
        ...

    def purge_reports(self, received_before: datetime) -> int:
        """Forget the batches received before that time; how many were forgotten."""
        ...

    def append_audit(self, entries: Sequence[AuditEntry]) -> None: ...


class InvestigationsTransaction(Protocol):
    """Automated investigations (one per alert) and their remediation tasks.

    Ids come from their own counters (never reused). `put_*` inserts or replaces by id.
    `investigated_through` is how far (an alert id) the background pass has got.
    """

    def allocate_investigation_ids(self, count: int) -> int: ...

    def allocate_task_ids(self, count: int) -> int: ...

    def put_investigation(self, investigation: Investigation) -> None: ...

    def get_investigation(self, investigation_id: int) -> Investigation | None: ...

    def investigation_for_alert(self, alert_id: int) -> Investigation | None: ...

    def list_investigations(
        self,
        status: str | None,
        groups: frozenset[str] | None,
        top: int,
        skip: int,
    ) -> builtins.list[Investigation]:
        """Newest first; `groups` (None: all) keeps those of alerts in these device groups."""
        ...

    def count_investigations(self, status: str | None, groups: frozenset[str] | None) -> int: ...

    def put_tasks(self, tasks: Sequence[RemediationTask]) -> None: ...

    def get_task(self, task_id: int) -> RemediationTask | None: ...

    def tasks_of(self, investigation_id: int) -> builtins.list[RemediationTask]:
        """In id order."""
        ...

    def tasks_for_device(
        self, device_id: str, statuses: Sequence[TaskStatus], limit: int
    ) -> builtins.list[RemediationTask]:
        """The device's tasks in these states, in id order."""
        ...

    def investigated_through(self) -> int: ...

    def set_investigated_through(self, alert_id: int) -> None: ...


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

    def alerts(self, readonly: bool = False) -> AbstractContextManager[AlertsTransaction]:
        """A unit of work over alerts, devices and sightings, with the rules of transaction()."""
        ...

    def sessions(self, readonly: bool = False) -> AbstractContextManager[SessionsTransaction]:
        """A unit of work over portal sessions, with the rules of transaction()."""
        ...

    def iterate(
        self, query: IndicatorQuery, now: datetime, batch: int = 5000
    ) -> Iterator[Indicator]:
        """Every indicator matching the query (ignoring skip/top) in id order, in bounded memory."""
        ...

    def agents(self, readonly: bool = False) -> AbstractContextManager[AgentsTransaction]:
        """A unit of work over agents and enrolment tokens, with the rules of transaction()."""
        ...

    def investigations(
        self, readonly: bool = False
    ) -> AbstractContextManager[InvestigationsTransaction]:
        """A unit of work over investigations and remediation tasks (rules of transaction())."""
        ...

    def policy_rows(self, batch: int = 50_000) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Every stored-active indicator as matching.snapshot.SNAPSHOT_SCHEMA batches in id
        order, read columnar from one consistent snapshot (no Python object per indicator).
        Each item is (the change-sequence value of that snapshot, a batch); there is always at
        least one item (its batch empty when nothing is active)."""
        ...

    def expiries(self) -> tuple[Any, Any]:
        """(ids as int64, expiry as float64 Unix seconds) numpy arrays of the stored-active
        indicators that have an expiry (read without a Python object per indicator)."""
        ...

    def output_rows(
        self,
        types: Sequence[str],
        actions: Sequence[str],
        now: datetime,
        *,
        titles: bool = False,
        details: bool = False,
        batch: int = 50_000,
    ) -> Iterator[builtins.list[tuple[Any, ...]]]:
        """The stored-active indicators not expired at `now`, of these types and actions (wire
        values), in id order, read from one consistent snapshot in lists of at most `batch`
        plain tuples (store.output_rows: id, type code, value, action code, severity code,
        title, last update in microseconds, sequence, device groups, authority; no Python
        object per indicator beyond its tuple). The title is '' unless `titles`, the last
        update and sequence 0 unless `details`. No list when nothing matches."""
        ...


class Notifier(Protocol):
    """Where the write path announces a committed change (bus.local.LocalBus in one process)."""

    def changed(self, sequence: int) -> None:
        """The change sequence now stands at `sequence`."""
        ...


class KnownBenign(Protocol):
    """Reference data of things known to be benign (MISP warninglists, trusted software)."""

    def reason(self, indicator_type: IndicatorType, value: str) -> str | None:
        """Why the value is known benign, or None."""
        ...
