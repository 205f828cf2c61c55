"""Network telemetry: /proc/net/tcp lines read, endpoints decided with the policy and reported
once per window; and, end to end, a real connection to an Audit address raises an alert on the
server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iocd.agent.connections import Connection, ConnectionWatcher, parse, read_connections
from iocd.agent.policy import Policy
from iocd.agent.protect import Device
from iocd.agent.runner import Agent, enroll
from iocd.agent.state import AgentState
from iocd.compose import Instance
from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType
from tests.agent.test_agent_e2e import Server, eventually, live  # noqa: F401  (fixture)
from tests.api.api_support import ADMIN, LiveApi

# Lines as the kernel writes them (addresses in host byte order, per 32-bit word).
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2007 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 93180 1
   1: 0201A8C0:D2F0 0A0A2D2D:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1
   2: 0201A8C0:D2F2 0B0A2D2D:0050 02 00000000:00000000 00:00000000 00000000  1000        0 4243 1
   3: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 4244 1
   4: 0201A8C0:D2F4 0C0A2D2D:01BB 06 00000000:00000000 00:00000000 00000000  1000        0 0 3
"""
TCP6 = """\
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A
   1: 0000000000000000FFFF00000201A8C0:D2F6 0000000000000000FFFF00000D0A2D2D:01BB 01
   2: B80D0120000000000000000001000000:D2F8 B80D0120000000000000000002000000:01BB 01
"""


def test_established_and_opening_connections_are_read_from_proc_lines() -> None:
    found = list(parse(TCP.splitlines()))
    assert found == [
        Connection("45.45.10.10", 443, "01"),
        Connection("45.45.10.11", 80, "02"),  # SYN_SENT: being opened (or being dropped)
    ]  # listening, loopback and TIME_WAIT sockets are left out


def test_ipv6_connections_and_ipv4_mapped_ones_are_read() -> None:
    assert list(parse(TCP6.splitlines())) == [
        Connection("45.45.10.13", 443, "01"),
        Connection("2001:db8::2", 443, "01"),
    ]


def test_the_hosts_own_connections_are_readable(tmp_path: Path) -> None:
    (tmp_path / "tcp").write_text(TCP)
    assert len(read_connections([tmp_path / "tcp", tmp_path / "missing"])) == 2
    if Path("/proc/net/tcp").exists():
        read_connections()  # no error on this host, whatever it finds


class Reports:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []

    def event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def alert(self, alert: dict[str, Any]) -> None:
        self.alerts.append(alert)


def _watcher(connections: list[Connection], reports: Reports) -> ConnectionWatcher:
    policy = Policy.from_snapshot(
        [
            ListedIndicator(1, IndicatorType.IP_ADDRESS, "45.45.10.10", Action.AUDIT),
            ListedIndicator(2, IndicatorType.IP_ADDRESS, "45.45.10.0/24", Action.BLOCK),
            ListedIndicator(3, IndicatorType.IP_ADDRESS, "45.45.10.12", Action.ALLOWED),
        ],
        1,
        None,
    )
    return ConnectionWatcher(
        lambda: policy,
        reports,  # type: ignore[arg-type]
        lambda: Device("device-1", "host-1", "Servers"),
        read=lambda: connections,
    )


def test_each_endpoint_is_reported_once_and_matches_alert() -> None:
    reports = Reports()
    connections = [
        Connection("45.45.10.10", 443, "01"),
        Connection("45.45.10.12", 443, "01"),
        Connection("198.51.100.7", 443, "01"),
    ]
    watcher = _watcher(connections, reports)
    assert watcher.check() == 3
    assert watcher.check() == 0  # still open: not reported again within the window
    assert {e["remote_ip"] for e in reports.events} == {
        "45.45.10.10",
        "45.45.10.12",
        "198.51.100.7",
    }
    assert all(e["kind"] == "network" and e["device_id"] == "device-1" for e in reports.events)
    # 45.45.10.10: the Audit address and the Block range both alert; .12 is Allowed: nothing
    alerted = sorted((a["entity"]["ip"], a["indicatorId"]) for a in reports.alerts)
    assert alerted == [("45.45.10.10", "1"), ("45.45.10.10", "2")]
    assert all(a["event"]["remote_port"] == 443 for a in reports.alerts)


def test_an_endpoint_is_reported_again_after_the_window() -> None:
    reports = Reports()
    watcher = _watcher([Connection("198.51.100.7", 443, "01")], reports)
    watcher.remember = 0.0
    watcher.check()
    watcher.check()
    assert len(reports.events) == 2


def test_a_failing_read_does_not_stop_the_watcher() -> None:
    calls: list[int] = []

    def broken() -> list[Connection]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("proc unreadable")
        stop.set()
        return []

    stop = threading.Event()
    watcher = ConnectionWatcher(
        lambda: Policy.empty(), None, lambda: Device("d", "h", "g"), interval=0.01, read=broken
    )
    watcher.run(stop)
    assert len(calls) == 2


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    """A TCP listener on an address of this host that is not loopback (the watcher leaves
    loopback out): the first non-loopback address of a UDP route probe, else skip."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: picks the outgoing address
            address = probe.getsockname()[0]
        except OSError:
            pytest.skip("this host has no non-loopback IPv4 address")
    if address.startswith("127."):
        pytest.skip("this host has no non-loopback IPv4 address")
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((address, 0))
    server.listen()
    try:
        yield address, server.getsockname()[1]
    finally:
        server.close()


@pytest.mark.slow
def test_a_connection_to_an_audit_address_raises_an_alert_on_the_server(
    tmp_path: Path,
    live: tuple[Instance, Server, LiveApi],  # noqa: F811
    listener: tuple[str, int],
) -> None:
    instance, server, api = live
    address, port = listener
    headers = api.app_headers()
    created = api.http.post(
        "/api/indicators",
        json={
            "indicatorValue": address,
            "indicatorType": "IpAddress",
            "action": "Audit",
            "title": "watched host",
            "description": "connections to it are audited",
            "generateAlert": True,
            "overrideJustification": "a lab address",
        },
        headers=headers,
    )
    assert created.status_code == 200, created.text
    indicator_id = created.json()["id"]
    _, token = instance.agents.create_enrollment_token(ADMIN)
    state = AgentState(tmp_path / "agent")
    agent = Agent(state, enroll(state, server.url, token, []), heartbeat=30, wait=2)
    agent.connections.interval = 0.1
    agent.start()
    try:
        eventually(lambda: agent.sync.policy.get(int(indicator_id)) is not None)
        with socket.create_connection((address, port), timeout=5):
            eventually(lambda: agent.connections.alerted >= 1, within=5)

        def alerted() -> bool:
            reply = api.http.get(
                "/api/alerts",
                params={"$filter": f"indicatorId eq {indicator_id}"},
                headers=headers,
            )
            return reply.status_code == 200 and bool(reply.json()["value"])

        eventually(alerted, within=15)
    finally:
        agent.stop()
