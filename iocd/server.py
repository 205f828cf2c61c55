"""The whole server `iocd serve` runs: the API with the portal installed beside it.

The two doors never import each other; this module, above both, puts them in one app that
shares one Instance (one store, one set of services and background workers).
"""

from __future__ import annotations

from fastapi import FastAPI

from iocd import web
from iocd.api.app import create_app
from iocd.compose import Instance, build
from iocd.config import Settings


def create_server(settings: Settings, instance: Instance | None = None) -> FastAPI:
    chosen = instance or build(settings)
    app = create_app(settings, chosen)
    web.install(app, chosen)
    return app


def create_server_from_env() -> FastAPI:
    """The factory `iocd serve` hands to Uvicorn: settings from IOCD_* variables."""
    return create_server(Settings.from_env())
