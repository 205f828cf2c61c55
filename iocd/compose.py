"""The object graph of one iocd instance, built from Settings. Used by every composition root.

This is the only place that picks concrete adapters (SQL or memory store, warninglists).
Importing it is cheap: the services and adapters are imported by `build` (a command that needs
no instance, or starts work before building one, does not wait for them).
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING

from iocd.clock import Clock, SystemClock
from iocd.config import Settings
from iocd.reference.warninglists import WarninglistsReference

if TYPE_CHECKING:
    from iocd.bus.local import LocalBus
    from iocd.services.accounts import AccountService
    from iocd.services.agent_policy import PolicyGateway
    from iocd.services.agent_reports import ReportService
    from iocd.services.agents import AgentService
    from iocd.services.alerts import AlertService
    from iocd.services.credentials import HashCost, SecretHasher
    from iocd.services.dashboard import DashboardService
    from iocd.services.detection import DetectionService
    from iocd.services.entities import EntityService
    from iocd.services.feeds import FeedService
    from iocd.services.index_keeper import SavedIndex
    from iocd.services.indicators import IndicatorService
    from iocd.services.investigations import InvestigationService
    from iocd.services.outputs import OutputService
    from iocd.services.ports import Store
    from iocd.services.remediation import RemediationService
    from iocd.services.sessions import SessionService
    from iocd.services.telemetry_port import TelemetryStore

log = logging.getLogger("iocd")

MEMORY_URL = "memory://"


@dataclass
class Instance:
    """The services of one instance over its adapters. The indicator service is built with it;
    each other service is built when first used (with the adapters it needs), so a command
    imports only what it uses: `build(..., eager=True)`, the default, builds them all at once,
    as a server must (its threads would otherwise race to build one)."""

    settings: Settings
    store: Store
    indicators: IndicatorService
    clock: Clock
    reference: WarninglistsReference
    bus: LocalBus
    hash_cost: HashCost | None = None

    @cached_property
    def telemetry(self) -> TelemetryStore:
        return open_telemetry(self.settings)

    @cached_property
    def hasher(self) -> SecretHasher:
        from iocd.services.credentials import SecretHasher

        return SecretHasher(self.hash_cost)

    @cached_property
    def accounts(self) -> AccountService:
        from iocd.services.accounts import AccountService

        return AccountService(self.store, self.clock, self.hasher)

    @cached_property
    def alerts(self) -> AlertService:
        from iocd.services.alerts import AlertService

        dedupe = timedelta(minutes=self.settings.alert_dedupe_minutes)
        return AlertService(self.store, self.clock, dedupe)

    @cached_property
    def detection(self) -> DetectionService:
        from iocd.services.detection import DetectionService

        return DetectionService(
            store=self.store,
            telemetry=self.telemetry,
            alerts=self.alerts,
            clock=self.clock,
            lookback=self._lookback,
            retention=timedelta(days=self.settings.telemetry_retention_days),
            saved_index=open_saved_index(self.settings),
        )

    @cached_property
    def sessions(self) -> SessionService:
        from iocd.services.sessions import SessionService

        return SessionService(self.store, self.clock, self.hasher)

    @cached_property
    def dashboard(self) -> DashboardService:
        from iocd.services.dashboard import DashboardService

        return DashboardService(self.indicators, self.alerts, self.clock)

    @cached_property
    def entities(self) -> EntityService:
        from iocd.services.entities import EntityService

        return EntityService(
            store=self.store,
            telemetry=self.telemetry,
            detection=self.detection,
            alerts=self.alerts,
            clock=self.clock,
            window=self._lookback,
        )

    @cached_property
    def agents(self) -> AgentService:
        from iocd.services.agents import AgentService

        return AgentService(self.store, self.clock, self.alerts)

    @cached_property
    def agent_policy(self) -> PolicyGateway:
        from iocd.services.agent_policy import PolicyGateway

        return PolicyGateway(self.store, self.clock, self.indicators.sweep_expired)

    @cached_property
    def agent_reports(self) -> ReportService:
        from iocd.services.agent_reports import ReportService

        return ReportService(self.store, self.clock, self.alerts, self.detection)

    @cached_property
    def investigations(self) -> InvestigationService:
        from iocd.services.investigations import InvestigationService

        return InvestigationService(
            store=self.store,
            clock=self.clock,
            alerts=self.alerts,
            detection=self.detection,
            telemetry=self.telemetry,
            lookback=self._lookback,
        )

    @cached_property
    def remediation(self) -> RemediationService:
        from iocd.services.remediation import RemediationService

        return RemediationService(self.store, self.clock)

    @cached_property
    def feeds(self) -> FeedService:
        return open_feeds(
            self.settings, self.store, self.clock, self.indicators, self.reference, self.bus
        )

    @cached_property
    def outputs(self) -> OutputService:
        from iocd.services.outputs import OutputService

        return OutputService(self.store, self.clock, self.indicators.sweep_expired)

    SERVICES = (
        *("accounts", "alerts", "detection", "sessions", "dashboard", "entities", "agents"),
        *("agent_policy", "agent_reports", "investigations", "remediation", "feeds", "outputs"),
    )
    """The services built on first use, in an order that builds each one's dependencies
    first."""

    def build_services(self) -> None:
        """Build every service not built yet."""
        for name in self.SERVICES:
            getattr(self, name)

    @property
    def _lookback(self) -> timedelta:
        return timedelta(days=self.settings.hunt_lookback_days)

    def warm_up(self) -> None:
        """Load what is otherwise loaded on first use (reference lists, keys), then freeze the
        heap as it stands: the garbage collector then never rescans those long-lived objects,
        which would otherwise pause a server for tens of milliseconds at a time."""
        self.reference.load()
        self.accounts.tenant_id()
        self.detection.keeper.refresh()
        gc.collect()
        gc.freeze()

    def describe_store(self) -> str:
        if self.settings.database_url == MEMORY_URL:
            return "in-memory store (nothing is kept)"
        if self.settings.uses_sqlite:
            return f"SQLite at {self.settings.data_dir / 'iocd.sqlite3'}"
        return "PostgreSQL"


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    if settings.database_url == MEMORY_URL:
        from iocd.store.memory import MemoryStore

        return MemoryStore()
    from iocd.store.engine import make_engine
    from iocd.store.migrate import upgrade
    from iocd.store.sql import SqlStore

    engine = make_engine(settings)
    if migrate:
        upgrade(engine)
    return SqlStore(engine)


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
    hash_cost: HashCost | None = None,
    telemetry: TelemetryStore | None = None,
    reference: WarninglistsReference | None = None,
    eager: bool = True,
) -> Instance:
    """An instance over the chosen adapters; `reference` is the known-benign data the
    guardrails use (default: a new `open_reference()`). With `eager` (the default) every
    service is built now, else each one on first use (Instance)."""
    from iocd.policy.guardrails import refusal_reason
    from iocd.services.indicators import IndicatorService, Limits

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    chosen_clock = clock or SystemClock()
    chosen_store = store or open_store(settings)
    reference = reference or open_reference()
    bus = open_bus(settings)
    service = IndicatorService(
        chosen_store,
        chosen_clock,
        partial(refusal_reason, known_benign=reference),
        Limits(max_active=settings.max_active_indicators, max_batch=settings.import_batch_size),
        notifier=bus,
    )
    instance = Instance(settings, chosen_store, service, chosen_clock, reference, bus, hash_cost)
    if telemetry is not None:
        instance.telemetry = telemetry
    if eager:
        instance.build_services()
    return instance


def open_reference() -> WarninglistsReference:
    """The known-benign reference data (the MISP warninglists), read on first use."""
    return WarninglistsReference()


def open_bus(settings: Settings) -> LocalBus:
    """The in-process bus, or the NATS one when `IOCD_NATS_URL` is set. When NATS cannot be
    reached this process still works alone (changes reach the others at their next detection
    step, within the scan interval), and says so."""
    from iocd.bus.local import LocalBus

    if not settings.nats_url:
        return LocalBus()
    from iocd.bus.nats import NatsBus

    try:
        return NatsBus(settings.nats_url).start()
    except ConnectionError as error:
        log.warning("%s; changes reach other processes at their next detection step", error)
        return LocalBus()


def open_telemetry(settings: Settings) -> TelemetryStore:
    """Telemetry lives in the data directory (Parquet, one folder per day); the in-memory
    store keeps it in memory too."""
    if settings.database_url == MEMORY_URL:
        from iocd.store.memory_telemetry import MemoryTelemetryStore

        return MemoryTelemetryStore()
    from iocd.store.telemetry import ParquetTelemetryStore

    return ParquetTelemetryStore(settings.data_dir / "telemetry")


def open_saved_index(settings: Settings) -> SavedIndex | None:
    """The compiled index saved in the data directory (none with the in-memory store)."""
    if settings.database_url == MEMORY_URL:
        return None
    from iocd.store.index_files import IndexFiles

    return IndexFiles(settings.data_dir / "index")


def open_feeds(
    settings: Settings,
    store: Store,
    clock: Clock,
    indicators: IndicatorService,
    reference: WarninglistsReference,
    bus: LocalBus,
) -> FeedService:
    """Feeds keep their definitions and runs beside the indicators (the same database) and
    their last good snapshots in `<data>/feeds`."""
    from iocd.feeds.sources import FeedSources
    from iocd.services.feed_ports import FeedStore
    from iocd.services.feeds import FeedService

    feed_store: FeedStore
    engine = getattr(store, "engine", None)
    if engine is not None:
        from iocd.store.feeds import SqlFeedStore

        feed_store = SqlFeedStore(engine)
    else:
        from iocd.store.memory_feeds import MemoryFeedStore

        feed_store = MemoryFeedStore()
    sources = FeedSources(settings.data_dir / "feeds", known_benign=reference.reason)
    return FeedService(
        feed_store, sources, indicators, store, clock, bus, settings.import_chunk_size
    )
