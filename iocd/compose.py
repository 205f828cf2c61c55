"""The object graph of one iocd instance, built from Settings. Used by every composition root.

This is the only place that picks concrete adapters (SQL or memory store, warninglists).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from functools import partial

from iocd.clock import Clock, SystemClock
from iocd.config import Settings
from iocd.policy.guardrails import refusal_reason
from iocd.reference.warninglists import WarninglistsReference
from iocd.services.accounts import AccountService
from iocd.services.credentials import HashCost, SecretHasher
from iocd.services.indicators import IndicatorService, Limits
from iocd.services.ports import Store

MEMORY_URL = "memory://"


@dataclass
class Instance:
    settings: Settings
    store: Store
    indicators: IndicatorService
    accounts: AccountService
    clock: Clock
    reference: WarninglistsReference

    def warm_up(self) -> None:
        """Load what is otherwise loaded on first use (reference lists, keys), then freeze the
        heap as it stands: the garbage collector then never rescans those long-lived objects,
        which would otherwise pause a server for tens of milliseconds at a time."""
        self.reference.load()
        self.accounts.tenant_id()
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
) -> Instance:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    chosen_clock = clock or SystemClock()
    chosen_store = store or open_store(settings)
    reference = WarninglistsReference()
    service = IndicatorService(
        chosen_store,
        chosen_clock,
        partial(refusal_reason, known_benign=reference),
        Limits(max_active=settings.max_active_indicators, max_batch=settings.import_batch_size),
    )
    accounts = AccountService(chosen_store, chosen_clock, SecretHasher(hash_cost))
    return Instance(settings, chosen_store, service, accounts, chosen_clock, reference)
