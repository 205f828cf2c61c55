"""A first look for newcomers: a realistic generated data set in a fresh data directory.

`generate(now, size)` is pure (one seeded random.Random): device groups with rules, indicators
of every type and action (real values from public threat intelligence plus made-up ones in the
same style; some scoped to groups, some expiring soon, one Allowed), a fleet of devices and a
day of telemetry in which some indicators are seen. `load_demo(services, principal)` writes
it through the ordinary use cases (accounts, indicators, detection), so alerts, sightings,
entity pages and the dashboard have something to show. `iocd demo` and the portal's
"Load demo data" button both call it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pyarrow as pa

from iocd.clock import Clock
from iocd.domain.accounts import GroupRules
from iocd.domain.principal import Principal
from iocd.domain.telemetry import TelemetryEvent
from iocd.errors import Conflict
from iocd.matching.columns import events_to_batch
from iocd.services.accounts import AccountService
from iocd.services.alerts import AlertService
from iocd.services.demo.catalog import GROUPS
from iocd.services.demo.intel import Intel, generate_intel
from iocd.services.demo.telemetry import DemoDevice, fleet, generate_day
from iocd.services.detection import DetectionService
from iocd.services.indicators import IndicatorService, Outcome

__all__ = ["DemoData", "DemoServices", "DemoSize", "DemoSummary", "generate", "load_demo"]

IMPORT_CHUNK = 500
INGEST_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class DemoSize:
    """How big a data set; the same seed gives the same values (times follow `now`)."""

    indicators: int = 1_500
    devices: int = 50
    events: int = 30_000
    seed: int = 20_240_501


@dataclass(frozen=True, slots=True)
class DemoData:
    groups: list[tuple[str, GroupRules, str]]
    intel: list[Intel]
    devices: list[DemoDevice]
    events: list[TelemetryEvent]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What `load_demo` stored."""

    groups_created: int
    indicators_created: int
    indicators_failed: int
    devices: int
    events: int
    alerts: int
    """Alerts raised while loading (by this call's scan or the server's background one)."""

    def lines(self) -> list[str]:
        return [
            f"{self.groups_created:,} device groups",
            f"{self.indicators_created:,} indicators"
            + (f" ({self.indicators_failed:,} refused)" if self.indicators_failed else ""),
            f"{self.devices:,} devices",
            f"{self.events:,} telemetry events over the last 24 hours",
            f"{self.alerts:,} alerts raised",
        ]


class DemoServices(Protocol):
    """The part of an instance the demo writes through (iocd.compose.Instance fits)."""

    @property
    def accounts(self) -> AccountService: ...

    @property
    def indicators(self) -> IndicatorService: ...

    @property
    def detection(self) -> DetectionService: ...

    @property
    def alerts(self) -> AlertService: ...

    @property
    def clock(self) -> Clock: ...


def generate(now: datetime, size: DemoSize = DemoSize()) -> DemoData:
    """The whole data set, pure and reproducible for one seed."""
    rng = random.Random(size.seed)  # noqa: S311 (reproducible made-up data, not secrets)
    intel = generate_intel(size.indicators, now, rng)
    devices = fleet(size.devices, rng)
    events = generate_day(devices, intel, size.events, now, rng)
    return DemoData(list(GROUPS), intel, devices, events)


def load_demo(
    services: DemoServices,
    principal: Principal,
    size: DemoSize = DemoSize(),
    *,
    force: bool = False,
) -> DemoSummary:
    """Store the demo data set. Refused (Conflict) when indicators exist, unless `force`
    (then existing groups are kept, indicators already there are updated, and a second day
    of telemetry is added). Only a global administrator may (creating groups checks it)."""
    existing = services.indicators.active_count()
    if existing and not force:
        raise Conflict(
            f"iocd already holds {existing:,} active indicators: the demo data set is meant for "
            "a fresh data directory (load it anyway with --force, or tick the confirmation)"
        )
    data = generate(services.clock.now(), size)
    alerts_before = _alert_count(services.alerts, principal)
    groups = 0
    for name, rules, description in data.groups:
        try:
            services.accounts.create_group(name, None, rules, principal, description)
            groups += 1
        except Conflict:
            continue
    created, failed = _import(services.indicators, data.intel, principal)
    services.detection.step()  # index the new list (nothing stored to hunt yet)
    stored = services.detection.ingest(_batches(data.events), principal)
    services.detection.step()  # scans what the server's background loop has not yet
    return DemoSummary(
        groups_created=groups,
        indicators_created=created,
        indicators_failed=failed,
        devices=len(data.devices),
        events=stored,
        alerts=_alert_count(services.alerts, principal) - alerts_before,
    )


def _alert_count(alerts: AlertService, principal: Principal) -> int:
    return sum(alerts.count_by(principal, ("status",)).values())


def _import(
    indicators: IndicatorService, intel: Sequence[Intel], principal: Principal
) -> tuple[int, int]:
    created = failed = 0
    for start in range(0, len(intel), IMPORT_CHUNK):
        drafts = [i.draft for i in intel[start : start + IMPORT_CHUNK]]
        for result in indicators.import_batch(drafts, principal):
            created += result.outcome is Outcome.CREATED
            failed += result.outcome is Outcome.FAILED
    return created, failed


def _batches(events: Sequence[TelemetryEvent]) -> Iterator[pa.RecordBatch]:
    for start in range(0, len(events), INGEST_CHUNK):
        yield events_to_batch(events[start : start + INGEST_CHUNK])
