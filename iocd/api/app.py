"""The HTTP door. `create_app(settings)` builds everything; nothing is module-level state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from iocd import __version__
from iocd.api import errors, openapi
from iocd.api.ratelimit import RateLimiter
from iocd.api.routes import (
    agent_reports,
    agents,
    alerts,
    feeds,
    file_imports,
    indicators,
    investigations,
    outputs,
    telemetry,
    tokens,
)
from iocd.api.taxii_app import install_taxii
from iocd.compose import Instance, build
from iocd.config import Settings
from iocd.feeds.scheduler import FeedScheduler

SWEEP_INTERVAL_SECONDS = 1.0
"""Expiry takes effect at the second given: the sweep (a cheap indexed check when nothing is
due) records it and publishes it on the bus, which wakes long-polling agents."""
PURGE_INTERVAL_SECONDS = 3600.0
COMPACT_INTERVAL_SECONDS = 300.0
log = logging.getLogger("iocd.detection")


def create_app(settings: Settings, instance: Instance | None = None) -> FastAPI:
    chosen = instance or build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(chosen.warm_up)
        workers = [
            asyncio.create_task(_sweep_forever(chosen)),
            asyncio.create_task(_detect_forever(chosen)),
        ]
        feed_scheduler = FeedScheduler(chosen.feeds.run_due)
        workers.append(feed_scheduler.start())
        try:
            yield
        finally:
            feed_scheduler.stop()
            chosen.detection.wakeup.set()
            for worker in workers:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await asyncio.to_thread(chosen.bus.close)

    app = FastAPI(
        title="iocd",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Indicators API compatible with Microsoft Defender for Endpoint's, "
        "plus OAuth2 client-credentials token endpoints.",
    )
    app.state.instance = chosen
    app.state.rate_limiter = RateLimiter()
    app.state.ingest_gate = telemetry.IngestGate()
    errors.install(app)
    openapi.install(app)
    for prefix in ("/api", "/api/v1.0"):
        app.include_router(indicators.router, prefix=prefix)
        app.include_router(file_imports.router, prefix=prefix)
        app.include_router(alerts.router, prefix=prefix)
        app.include_router(telemetry.router, prefix=prefix)
        app.include_router(agents.router, prefix=prefix)
        app.include_router(agent_reports.router, prefix=prefix)
        app.include_router(investigations.router, prefix=prefix)
        app.include_router(investigations.agent_router, prefix=prefix)
        app.include_router(feeds.router, prefix=prefix)
        app.include_router(outputs.router, prefix=prefix)
    app.include_router(tokens.router)
    install_taxii(app, chosen, app.state.rate_limiter)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness plus the two numbers an operator wants first."""
        return {
            "status": "ok",
            "version": __version__,
            "activeIndicators": chosen.indicators.active_count(),
            "changeSequence": chosen.indicators.last_sequence(),
            "store": chosen.describe_store(),
        }

    return app


def create_app_from_env() -> FastAPI:
    """The factory `iocd serve` hands to Uvicorn: settings from IOCD_* variables."""
    return create_app(Settings.from_env())


async def _sweep_forever(instance: Instance) -> None:
    """Record expiries in the change sequence shortly after they happen."""
    while True:
        await asyncio.to_thread(instance.indicators.sweep_expired)
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)


async def _detect_forever(instance: Instance) -> None:
    """The detection engine in the background of `iocd serve`: fold indicator changes into the
    index (retro-hunting new ones), scan newly stored telemetry, investigate the alerts raised
    since the last pass (a batch at a time), apply retention hourly; publish the change
    sequence it has seen, so agents hear of writes made by other processes too. Woken
    at once by an ingest; otherwise every `scan_interval_ms`. Compacts the day's telemetry
    files every five minutes."""
    detection = instance.detection
    interval = instance.settings.scan_interval_ms / 1000
    compacted_at = time.monotonic()
    purged_at = compacted_at - PURGE_INTERVAL_SECONDS - 1  # retention applies at start
    while True:
        detection.wakeup.clear()
        try:
            step = await asyncio.to_thread(detection.step)
            # Writes made by other processes (the CLI, other servers) reach the store without
            # passing this process's bus: publish what the index has seen, to wake agents.
            instance.bus.changed(step.refresh.sequence)
            if step.scanned.events or step.hunted.events:
                log.info(
                    "scanned %d events (%d alerts), retro-hunted %d events (%d alerts)",
                    step.scanned.events,
                    step.scanned.alerts_created,
                    step.hunted.events,
                    step.hunted.alerts_created,
                )
            investigated = await asyncio.to_thread(instance.investigations.run_pending)
            if investigated:
                log.info("investigated %d alerts", investigated)
            if time.monotonic() - compacted_at > COMPACT_INTERVAL_SECONDS:
                await asyncio.to_thread(detection.compact)
                compacted_at = time.monotonic()
            if time.monotonic() - purged_at > PURGE_INTERVAL_SECONDS:
                await asyncio.to_thread(detection.purge)
                keep = timedelta(days=instance.settings.telemetry_retention_days)
                await asyncio.to_thread(instance.agent_reports.purge, keep)
                purged_at = time.monotonic()
        except Exception:
            log.exception("detection step failed; retrying")
        await asyncio.to_thread(detection.wakeup.wait, interval)
