"""Helpers of the HTTP tests: a live Uvicorn server, callers, bodies and error-shape checks.

`LiveApi` is one running server with the `Instance` behind it, so tests can register
applications, users and device groups the way the CLI does, and look at the audit log directly.
"""

from __future__ import annotations

import itertools
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn

from iocd.clock import FixedClock
from iocd.compose import Instance
from iocd.domain.accounts import AppRole, GroupRules
from iocd.domain.principal import Principal, Role
from iocd.services.credentials import HashCost

ADMIN = Principal("root", Role.GLOBAL_ADMINISTRATOR, "Cli")
CHEAP_HASH = HashCost(time_cost=1, memory_cost=8, parallelism=1)
# Tokens are checked for `iat`/`nbf` against the wall clock (PyJWT), for expiry against the
# instance's clock: the fixed clock starts at the real time so both agree.
START = datetime.now(UTC).replace(microsecond=0)
JSON = "application/json"

_serial = itertools.count(1)
_run = uuid.uuid4().hex[:8]


def unique(prefix: str = "t") -> str:
    """A name no other test of this run uses."""
    return f"{prefix}{_run}{next(_serial)}"


def sha256() -> str:
    return secrets.token_hex(32)


def body(**overrides: Any) -> dict[str, Any]:
    """A valid MDE indicator body with a unique SHA-256 value; override any field."""
    out: dict[str, Any] = {
        "indicatorValue": sha256(),
        "indicatorType": "FileSha256",
        "action": "Block",
        "title": "test indicator",
        "description": "submitted by the API tests",
        "severity": "High",
    }
    out.update(overrides)
    return out


def assert_mde_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The response is `status` with an MDE error body (and code, if given); returns the error."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(JSON)
    error = response.json()["error"]
    assert set(error) == {"code", "message", "target"}
    assert all(isinstance(error[k], str) and error[k] for k in error)
    if code is not None:
        assert error["code"] == code, error
    return error


class LiveServer:
    """Uvicorn serving one app in a daemon thread (signal handlers stay with the main thread)."""

    def __init__(self, app: Any) -> None:
        # IPPROTO_TCP: only then does asyncio set TCP_NODELAY on accepted sockets (else +40 ms)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, http="h11", ws="none", lifespan="on", log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        raise RuntimeError("the API server did not answer /health within 15 s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@dataclass
class LiveApi:
    """One running server, its instance and clock, and helpers to make callers."""

    instance: Instance
    clock: FixedClock
    base_url: str
    http: httpx.Client
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def tenant(self) -> str:
        return self.instance.accounts.tenant_id()

    # -- applications -------------------------------------------------------------------------
    def register_app(
        self, role: AppRole = AppRole.READ_WRITE_ALL, rate_limit: int | None = None
    ) -> tuple[str, str]:
        """(client id, secret) of a new application."""
        app, secret = self.instance.accounts.register_application(
            unique("app"), role, ADMIN, rate_limit_per_minute=rate_limit
        )
        return app.client_id, secret

    def token(self, client_id: str, secret: str) -> str:
        response = self.http.post(
            f"/{self.tenant}/oauth2/v2.0/token",
            data={
                "client_id": client_id,
                "client_secret": secret,
                "grant_type": "client_credentials",
                "scope": "https://api.securitycenter.microsoft.com/.default",
            },
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def app_headers(
        self, role: AppRole = AppRole.READ_WRITE_ALL, rate_limit: int | None = None
    ) -> dict[str, str]:
        """Authorization headers of a new application, its token fetched over HTTP."""
        return bearer(self.token(*self.register_app(role, rate_limit)))

    def app_with_id(self, role: AppRole = AppRole.READ_WRITE_ALL) -> tuple[str, dict[str, str]]:
        client_id, secret = self.register_app(role)
        return client_id, bearer(self.token(client_id, secret))

    # -- users and device groups --------------------------------------------------------------
    def group(self) -> str:
        name = unique("group")
        self.instance.accounts.create_group(name, None, GroupRules(tags=(name,)), ADMIN)
        return name

    def user(self, role: Role, groups: tuple[str, ...] = ()) -> tuple[str, dict[str, str]]:
        """(user name, Authorization headers with a personal token) of a new user."""
        name = unique("user")
        self.instance.accounts.create_user(name, role, ADMIN, device_groups=groups)
        token_id, text = self.instance.accounts.create_personal_token(name, "tests", ADMIN)
        self._tokens[name] = token_id.token_id
        return name, bearer(text)

    def token_id_of(self, user_name: str) -> str:
        return self._tokens[user_name]

    # -- indicators ---------------------------------------------------------------------------
    def submit(self, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
        response = self.http.post("/api/indicators", json=body(**overrides), headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


SIGHTING_FIELDS = ("sightingCount", "sightingDeviceCount", "firstSeen", "lastSeen")


def without_sightings(got: dict[str, Any]) -> dict[str, Any]:
    """An indicator from GET /api/indicators/{id} without its sightings, as POST answers it."""
    return {k: v for k, v in got.items() if k not in SIGHTING_FIELDS}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


StartApi = Callable[..., LiveApi]
