"""The HTTP door. `create_app(settings)` builds everything; nothing is module-level state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from iocd import __version__
from iocd.api import errors, openapi
from iocd.api.ratelimit import RateLimiter
from iocd.api.routes import indicators, tokens
from iocd.compose import Instance, build
from iocd.config import Settings

SWEEP_INTERVAL_SECONDS = 30.0


def create_app(settings: Settings, instance: Instance | None = None) -> FastAPI:
    chosen = instance or build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(chosen.warm_up)
        sweeper = asyncio.create_task(_sweep_forever(chosen))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

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
    errors.install(app)
    openapi.install(app)
    for prefix in ("/api", "/api/v1.0"):
        app.include_router(indicators.router, prefix=prefix)
    app.include_router(tokens.router)

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
