"""The real API over real HTTP: Uvicorn in a thread on a free loopback port, httpx as the client.

`live_api` is one server for the whole session (tests stay independent by registering their own
applications and users and submitting unique values); `start_api(...)` starts another server with
its own instance when a test needs different settings or a clock it may move.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from iocd.api.app import create_app
from iocd.clock import FixedClock
from iocd.compose import build
from iocd.config import Settings
from tests.api.api_support import CHEAP_HASH, START, LiveApi, LiveServer, StartApi


@pytest.fixture(scope="session")
def start_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartApi]:
    """Start a server with its own in-memory instance; `settings` override Settings fields."""
    servers: list[tuple[LiveServer, httpx.Client]] = []

    def start(clock: FixedClock | None = None, **settings: Any) -> LiveApi:
        chosen_clock = clock or FixedClock(START)
        data_dir: Path = tmp_path_factory.mktemp("iocd")
        config = Settings(data_dir=data_dir, database_url="memory://", **settings)
        instance = build(config, hash_cost=CHEAP_HASH, clock=chosen_clock)
        server = LiveServer(create_app(config, instance))
        server.start()
        client = httpx.Client(base_url=server.base_url, timeout=60)
        servers.append((server, client))
        return LiveApi(instance, chosen_clock, server.base_url, client)

    yield start
    for server, client in servers:
        client.close()
        server.stop()


@pytest.fixture(scope="session")
def live_api(start_api: StartApi) -> LiveApi:
    """The shared server (clock fixed at START: never move it; use start_api for that)."""
    return start_api()


@pytest.fixture
def api(live_api: LiveApi) -> LiveApi:
    return live_api


@pytest.fixture
def headers(api: LiveApi) -> dict[str, str]:
    """A fresh Ti.ReadWrite.All application's Authorization headers."""
    return api.app_headers()
