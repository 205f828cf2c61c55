"""A live portal for tests: the full server (iocd.server.create_server: API + portal) served by
Uvicorn in a thread on a free loopback port, over an in-memory instance, with helpers to make
users and device groups and to sign in over plain HTTP.

Used by the HTTP tests here and by the browser tests in tests/e2e.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from iocd.clock import FixedClock
from iocd.compose import Instance, build
from iocd.config import Settings
from iocd.domain.accounts import GroupRules
from iocd.domain.principal import Role
from iocd.server import create_server
from tests.api.api_support import ADMIN, CHEAP_HASH, START, LiveServer, unique

CSRF_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def new_password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


@dataclass
class LivePortal:
    """One running server, its instance and clock, and the users made through it."""

    instance: Instance
    clock: FixedClock
    server: LiveServer
    passwords: dict[str, str] = field(default_factory=dict)
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def group(self, name: str | None = None) -> str:
        chosen = name or unique("group")
        self.instance.accounts.create_group(chosen, None, GroupRules(tags=(chosen,)), ADMIN)
        return chosen

    def user(
        self,
        role: Role = Role.GLOBAL_ADMINISTRATOR,
        groups: tuple[str, ...] = (),
        name: str | None = None,
        display_name: str = "",
    ) -> tuple[str, str]:
        """(name, password) of a new user with this role and these device groups."""
        chosen = name or unique("user")
        password = new_password()
        self.instance.accounts.create_user(
            chosen,
            role,
            ADMIN,
            device_groups=groups,
            password=password,
            display_name=display_name,
        )
        self.passwords[chosen] = password
        return chosen, password

    def instance_areas(self) -> frozenset[str]:
        """The page modules the portal installed (web.PAGE_MODULES that exist)."""
        import importlib.util

        from iocd.web import PAGE_MODULES

        return frozenset(
            n for n in PAGE_MODULES if importlib.util.find_spec(f"iocd.web.pages.{n}") is not None
        )

    def client(self) -> httpx.Client:
        """A cookie-keeping client that does not follow redirects (tests look at them)."""
        client = httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False)
        self.clients.append(client)  # closed by stop()
        return client

    def sign_in(self, client: httpx.Client, name: str, password: str | None = None) -> None:
        token = csrf_of(client.get("/signin"))
        response = client.post(
            "/signin",
            data={"name": name, "password": password or self.passwords[name], "csrf_token": token},
        )
        assert response.status_code == 303, response.text
        assert "iocd_session" in client.cookies

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.stop()


def csrf_of(response: httpx.Response) -> str:
    """The CSRF token in a rendered page's forms."""
    found = CSRF_FIELD.search(response.text)
    assert found, f"no CSRF field in {response.request.url}: {response.text[:300]}"
    return found.group(1)


def start_portal(data_dir: Path, clock: FixedClock | None = None, **settings: Any) -> LivePortal:
    """A server over a fresh in-memory instance (no user yet: the first run is pending)."""
    chosen_clock = clock or FixedClock(START)
    config = Settings(data_dir=data_dir, database_url="memory://", **settings)
    instance = build(config, hash_cost=CHEAP_HASH, clock=chosen_clock)
    server = LiveServer(create_server(config, instance))
    server.start()
    return LivePortal(instance, chosen_clock, server)
