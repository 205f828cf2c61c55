"""The NATS change bus: a change published in one process wakes listeners in the others.

Needs NATS on IOCD_TEST_NATS_URL (default nats://127.0.0.1:4222): skipped with the reason when
it is unreachable, failed instead when IOCD_REQUIRE_SERVICES=1. The distributed test also needs
PostgreSQL (two instances share one store, as two API processes would).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from sqlalchemy import Engine

from iocd.bus.local import LocalBus
from iocd.bus.nats import NatsBus
from iocd.compose import build, open_bus
from iocd.config import Settings
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.principal import Principal, Role
from iocd.domain.types import Action, IndicatorType
from iocd.store.sql import SqlStore
from tests.services_required import require_or_skip

NATS_URL = os.environ.get("IOCD_TEST_NATS_URL", "nats://127.0.0.1:4222")
WAIT = 5.0


def _nats_reachable() -> bool:
    address = urlparse(NATS_URL)
    try:
        with socket.create_connection((address.hostname or "127.0.0.1", address.port or 4222), 2):
            return True
    except OSError:
        return False


@pytest.fixture
def nats_url() -> str:
    if not _nats_reachable():
        require_or_skip(f"NATS is not reachable at {NATS_URL}")
    return NATS_URL


@pytest.fixture
def prefix() -> str:
    """A subject prefix of this test alone (other tests and servers may share the NATS)."""
    return f"iocd-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def buses(nats_url: str, prefix: str) -> Iterator[tuple[NatsBus, NatsBus]]:
    first, second = NatsBus(nats_url, prefix).start(), NatsBus(nats_url, prefix).start()
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def test_a_change_published_in_one_process_reaches_the_others(
    buses: tuple[NatsBus, NatsBus],
) -> None:
    first, second = buses
    heard: list[int] = []
    arrived = threading.Event()

    def listener(sequence: int) -> None:
        heard.append(sequence)
        arrived.set()

    second.subscribe(listener)
    first.changed(7)
    assert first.last == 7  # at once, in the publishing process
    assert arrived.wait(WAIT)
    assert heard == [7]
    assert second.last == 7


def test_a_long_poll_parked_on_another_process_wakes(buses: tuple[NatsBus, NatsBus]) -> None:
    first, second = buses

    async def park() -> int:
        waiting = asyncio.ensure_future(second.wait_beyond(0, WAIT))
        while not second.waiting():
            await asyncio.sleep(0.01)
        first.changed(3)
        return await waiting

    assert asyncio.run(park()) == 3


def test_stale_and_malformed_values_change_nothing(
    buses: tuple[NatsBus, NatsBus], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = buses
    first.changed(10)
    heard = threading.Event()
    second.subscribe(lambda _: heard.set())
    assert heard.wait(WAIT) or second.last == 10
    caplog.set_level(logging.WARNING, logger="iocd.bus.nats")
    first.changed(4)  # below what was published: ignored everywhere
    publish = asyncio.run_coroutine_threadsafe(
        first._client.publish(first.subject, b"not a number"), first._loop
    )
    publish.result(WAIT)
    first.changed(11)
    deadline = threading.Event()
    for _ in range(int(WAIT / 0.05)):
        if second.last == 11:
            break
        deadline.wait(0.05)
    assert second.last == 11
    assert "not a sequence value" in caplog.text


def test_an_unreachable_nats_leaves_the_process_working_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(ConnectionError, match="cannot reach NATS"):
        NatsBus("nats://127.0.0.1:1").start()
    caplog.set_level(logging.WARNING, logger="iocd")
    bus = open_bus(Settings(nats_url="nats://127.0.0.1:1"))
    assert type(bus) is LocalBus
    assert "next detection step" in caplog.text


def test_without_a_nats_url_the_bus_is_in_process() -> None:
    assert type(open_bus(Settings())) is LocalBus


@pytest.mark.postgres
def test_a_write_through_one_server_wakes_agents_on_another(
    nats_url: str, postgres_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two API processes over one PostgreSQL store: an indicator submitted through the first
    wakes a long poll parked on the second, whose policy service then serves the change."""
    settings = Settings(nats_url=nats_url)
    first = build(
        settings.with_overrides(data_dir=tmp_path_factory.mktemp("first")),
        store=SqlStore(postgres_engine),
    )
    second = build(
        settings.with_overrides(data_dir=tmp_path_factory.mktemp("second")),
        store=SqlStore(postgres_engine),
    )
    try:
        assert isinstance(first.bus, NatsBus) and isinstance(second.bus, NatsBus)
        since = second.agent_policy.last_sequence()

        async def park() -> int:
            waiting = asyncio.ensure_future(second.bus.wait_beyond(since, WAIT))
            while not second.bus.waiting():
                await asyncio.sleep(0.01)
            fields = build_fields(
                indicator_type=IndicatorType.FILE_SHA256,
                value="ab" * 32,
                action=Action.BLOCK,
                title="distributed",
                description="submitted through the first server",
            )
            first.indicators.submit(
                IndicatorDraft(fields), Principal("tester", Role.GLOBAL_ADMINISTRATOR, "Cli")
            )
            return await waiting

        woke = asyncio.run(park())
        assert woke > since
        update = second.agent_policy.update("", since)
        assert [u.value for u in update.upserts] == ["ab" * 32]
    finally:
        first.bus.close()
        second.bus.close()
