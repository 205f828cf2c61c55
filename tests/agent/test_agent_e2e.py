"""The agent against the real server over HTTP: enrol, sync, quarantine, alert, restore, outage.

The server runs in a thread with an in-memory store (as in tests/api); it is stopped and started
again on the same port with the same instance to show the agent enforcing its cached policy and
delivering the reports it spooled meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from iocd.agent.quarantine import Exemptions, Vault
from iocd.agent.runner import Agent, enroll
from iocd.agent.state import AgentState
from iocd.api.app import create_app
from iocd.clock import FixedClock
from iocd.compose import Instance, build
from iocd.config import Settings
from tests.api.api_support import ADMIN, CHEAP_HASH, START, LiveApi


class Server:
    """Uvicorn in a thread on a fixed loopback port, so it can stop and start again."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, http="h11", ws="none", lifespan="on", log_level="warning")
        config.timeout_graceful_shutdown = 1
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.thread.start()
        eventually(lambda: _healthy(self.url), within=15)
        return self

    def stop(self) -> None:
        if not self.thread.is_alive():
            self.sock.close()
            return
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def eventually(check: Callable[[], object], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s")
        time.sleep(0.02)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Instance, Server, LiveApi]]:
    clock = FixedClock(START)
    config = Settings(data_dir=tmp_path / "server", database_url="memory://")
    instance = build(config, hash_cost=CHEAP_HASH, clock=clock)
    app = create_app(config, instance)
    if "/api/agents/enroll" not in app.openapi().get("paths", {}):
        pytest.skip("the server has no POST /api/agents/enroll endpoint yet")
    server = Server(app).start()
    http = httpx.Client(base_url=server.url, timeout=30)
    holder = [server]
    yield instance, server, LiveApi(instance, clock, server.url, http)
    http.close()
    holder[0].stop()


def _submit(api: LiveApi, headers: dict[str, str], payload: bytes) -> str:
    created = api.http.post(
        "/api/indicators",
        json={
            "indicatorValue": hashlib.sha256(payload).hexdigest(),
            "indicatorType": "FileSha256",
            "action": "Block",
            "title": "agent e2e",
            "description": "a file the agent must quarantine",
            "severity": "High",
            "generateAlert": True,
        },
        headers=headers,
    )
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def _alerts_for(api: LiveApi, headers: dict[str, str], indicator_id: str) -> list[dict[str, Any]]:
    try:
        reply = api.http.get(
            "/api/alerts", params={"$filter": f"indicatorId eq {indicator_id}"}, headers=headers
        )
    except httpx.TransportError:
        return []
    return list(reply.json().get("value", [])) if reply.status_code == 200 else []


@pytest.mark.slow
def test_agent_against_the_server(tmp_path: Path, live: tuple[Instance, Server, LiveApi]) -> None:
    instance, server, api = live
    headers = api.app_headers()
    _, token = instance.agents.create_enrollment_token(ADMIN)
    state = AgentState(tmp_path / "agent")
    credential = enroll(state, server.url, token, ["e2e"])
    assert credential.token.startswith("iocd_dev_")

    payload = b"e2e malware " + os.urandom(8)
    indicator_id = _submit(api, headers, payload)

    watched = tmp_path / "watched"
    agent = Agent(state, credential, watch=[watched], heartbeat=30, wait=2, settle=0.05)
    agent.start()
    try:
        eventually(lambda: agent.sync.policy.get(int(indicator_id)) is not None)
        # a new indicator is pushed (long-poll), not waited for
        later = _submit(api, headers, b"later " + os.urandom(8))
        eventually(lambda: agent.sync.policy.get(int(later)) is not None, within=2.0)
        # the status file follows the apply (written just after it)
        eventually(lambda: agent.sync.policy.digest == state.status().get("appliedDigest"))
        target = watched / "drop.bin"
        started = time.monotonic()
        target.write_bytes(payload)
        eventually(lambda: not target.exists(), within=2.0)
        eventually(
            lambda: _alerts_for(api, headers, indicator_id),
            within=2.0 - (time.monotonic() - started) + 0.5,
        )
        assert time.monotonic() - started < 2.5
        alert = _alerts_for(api, headers, indicator_id)[0]
        assert alert["decision"]["enforcement"] == "block", alert

        item = Vault(state.vault_dir).items()[0]
        Exemptions(state.exemptions_path).add(item)
        Vault(state.vault_dir).restore(item.id)
        time.sleep(0.3)
        assert target.read_bytes() == payload

        # outage: the cached policy is enforced and reports are spooled
        port = server.port
        server.stop()
        again = watched / "again.bin"
        again.write_bytes(payload)
        eventually(lambda: not again.exists(), within=2.0)
        eventually(lambda: agent.reporter.spooled(), within=3.0)

        # back: the spooled reports are delivered
        restarted = Server(server.app, port).start()
        try:
            eventually(lambda: not agent.reporter.spooled(), within=10.0)
            eventually(
                lambda: _alerts_for(api, headers, indicator_id)[0].get("occurrences", 1) >= 1
            )
            eventually(lambda: state.status().get("appliedSequence") == agent.sync.policy.sequence)
        finally:
            restarted.stop()
    finally:
        agent.stop()
