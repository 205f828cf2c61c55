"""The object graph of one iocd instance, built from Settings. Used by every composition root.

This is the only place that picks concrete adapters (SQL or memory store, warninglists).
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from iocd.bus.local import LocalBus
from iocd.clock import Clock, SystemClock
from iocd.config import Settings
from iocd.policy.guardrails import refusal_reason
from iocd.reference.warninglists import WarninglistsReference
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
from iocd.services.indicators import IndicatorService, Limits
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
    settings: Settings
    store: Store
    indicators: IndicatorService
    accounts: AccountService
    clock: Clock
    reference: WarninglistsReference
    alerts: AlertService
    detection: DetectionService
    sessions: SessionService
    dashboard: DashboardService
    entities: EntityService
    bus: LocalBus
    agents: AgentService
    agent_policy: PolicyGateway
    agent_reports: ReportService
    investigations: InvestigationService
    remediation: RemediationService
    feeds: FeedService
    outputs: OutputService

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
) -> Instance:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    chosen_clock = clock or SystemClock()
    chosen_store = store or open_store(settings)
    reference = WarninglistsReference()
    bus = open_bus(settings)
    service = IndicatorService(
        chosen_store,
        chosen_clock,
        partial(refusal_reason, known_benign=reference),
        Limits(max_active=settings.max_active_indicators, max_batch=settings.import_batch_size),
        notifier=bus,
    )
    hasher = SecretHasher(hash_cost)
    accounts = AccountService(chosen_store, chosen_clock, hasher)
    alerts = AlertService(
        chosen_store, chosen_clock, timedelta(minutes=settings.alert_dedupe_minutes)
    )
    chosen_telemetry = telemetry or open_telemetry(settings)
    detection = DetectionService(
        store=chosen_store,
        telemetry=chosen_telemetry,
        alerts=alerts,
        clock=chosen_clock,
        lookback=timedelta(days=settings.hunt_lookback_days),
        retention=timedelta(days=settings.telemetry_retention_days),
        saved_index=open_saved_index(settings),
    )
    return Instance(
        settings,
        chosen_store,
        service,
        accounts,
        chosen_clock,
        reference,
        alerts=alerts,
        detection=detection,
        sessions=SessionService(chosen_store, chosen_clock, hasher),
        dashboard=DashboardService(service, alerts, chosen_clock),
        entities=EntityService(
            store=chosen_store,
            telemetry=chosen_telemetry,
            detection=detection,
            alerts=alerts,
            clock=chosen_clock,
            window=timedelta(days=settings.hunt_lookback_days),
        ),
        bus=bus,
        agents=AgentService(chosen_store, chosen_clock, alerts),
        agent_policy=PolicyGateway(chosen_store, chosen_clock, service.sweep_expired),
        agent_reports=ReportService(chosen_store, chosen_clock, alerts, detection),
        investigations=InvestigationService(
            store=chosen_store,
            clock=chosen_clock,
            alerts=alerts,
            detection=detection,
            telemetry=chosen_telemetry,
            lookback=timedelta(days=settings.hunt_lookback_days),
        ),
        remediation=RemediationService(chosen_store, chosen_clock),
        feeds=open_feeds(settings, chosen_store, chosen_clock, service, reference, bus),
        outputs=OutputService(chosen_store, chosen_clock, service.sweep_expired),
    )


def open_bus(settings: Settings) -> LocalBus:
    """The in-process bus, or the NATS one when `IOCD_NATS_URL` is set. When NATS cannot be
    reached this process still works alone (changes reach the others at their next detection
    step, within the scan interval), and says so."""
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
