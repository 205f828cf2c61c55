"""Network telemetry: the host's TCP connections, read from /proc/net, decided and reported.

Every `interval` seconds the watcher reads /proc/net/tcp and tcp6 (no privilege needed) and takes
each connection to a remote address that is being opened (SYN_SENT) or is open (ESTABLISHED),
loopback and link-local addresses left out. A remote endpoint (address and port) is reported
once per `remember` seconds, however long its connections last: as a `network` telemetry event,
and, when the list has something to say about the address, decided with the single-event
matcher (SPEC section 4) for this device's group. An alert-worthy decision (Warn, Audit with
alerts, and Block) is reported to the server, which rebuilds the alert from the indicator and
the event. Enforcement is not done here: Block addresses are dropped by nftables where the host
allows it (netblock), and only alerted otherwise (status says which).

Polling misses connections that open and close between two reads; what it sees is what a
security engineer would see with `ss -tn` every second. The process behind a connection is not
looked up (it would mean reading every process's descriptors).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iocd.agent.policy import Policy
from iocd.agent.protect import Device, native_event
from iocd.agent.reporter import Reporter
from iocd.domain.decision import EntityKind
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.matching.single import decide_event
from iocd.policy.explain import decision_to_wire

log = logging.getLogger(__name__)

PROC_FILES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
OPENING_OR_OPEN = frozenset({"01", "02"})  # ESTABLISHED, SYN_SENT


@dataclass(frozen=True, slots=True)
class Connection:
    remote_ip: str
    remote_port: int
    state: str


def _address(field: str) -> tuple[str, int]:
    """An address and port of /proc/net/tcp*: hex, each 32-bit word in host (little-endian)
    order; IPv4-mapped IPv6 addresses come back as IPv4."""
    text, _, port = field.partition(":")
    raw = bytes.fromhex(text)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(words)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address), int(port, 16)


def parse(lines: Iterable[str]) -> Iterator[Connection]:
    """The remote connections of the lines of a /proc/net/tcp or tcp6 file (header skipped)."""
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[0] == "sl" or fields[3] not in OPENING_OR_OPEN:
            continue
        try:
            address, port = _address(fields[2])
        except ValueError:
            continue
        parsed = ipaddress.ip_address(address)
        if parsed.is_loopback or parsed.is_link_local or parsed.is_unspecified:
            continue
        yield Connection(address, port, fields[3])


def read_connections(files: Iterable[Path] = PROC_FILES) -> list[Connection]:
    found: list[Connection] = []
    for path in files:
        try:
            with path.open(encoding="ascii") as lines:
                found.extend(parse(lines))
        except OSError:
            continue  # no IPv6 on this host, or no /proc
    return found


class ConnectionWatcher:
    def __init__(
        self,
        policy: Callable[[], Policy],
        reporter: Reporter | None,
        device: Callable[[], Device],
        *,
        interval: float = 1.0,
        remember: float = 600.0,
        read: Callable[[], list[Connection]] = read_connections,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy
        self.reporter = reporter
        self.device = device
        self.interval = interval
        self.remember = remember
        self.read = read
        self.now = now
        self.alerted = 0
        self._seen: dict[tuple[str, int], float] = {}

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # a bad read must not end network telemetry
                log.exception("network telemetry: could not read the connections")
            stop.wait(self.interval)

    def check(self) -> int:
        """Report the endpoints not reported within `remember` seconds; how many were new."""
        clock = time.monotonic()
        self._seen = {k: t for k, t in self._seen.items() if clock - t < self.remember}
        fresh = 0
        for connection in self.read():
            key = (connection.remote_ip, connection.remote_port)
            if key in self._seen:
                continue
            self._seen[key] = clock
            fresh += 1
            self._report(connection)
        return fresh

    def _report(self, connection: Connection) -> None:
        device = self.device()
        event = TelemetryEvent(
            time=self.now(),
            kind=EventKind.NETWORK,
            device_id=device.device_id,
            device_name=device.device_name,
            remote_ip=connection.remote_ip,
            remote_port=connection.remote_port,
            device_group=device.group,
        )
        native = native_event(event)
        if self.reporter is not None:
            self.reporter.event(native)
        for found in decide_event(self.policy().index, event):
            if found.entity is not EntityKind.NETWORK or not found.decision.alerts:
                continue
            wire = decision_to_wire(found.decision)
            for candidate in found.decision.alerts:
                self.alerted += 1
                log.warning(
                    "connection to %s:%d matches indicator %d (%s)",
                    connection.remote_ip,
                    connection.remote_port,
                    candidate.indicator.id,
                    candidate.indicator.action.value,
                )
                if self.reporter is not None:
                    self.reporter.alert(_alert(candidate.indicator.id, connection, wire, native))


def _alert(
    indicator_id: int, connection: Connection, decision: Any, event: dict[str, Any]
) -> dict[str, Any]:
    return {
        "indicatorId": str(indicator_id),
        "entityType": "Ip",
        "entity": {"ip": connection.remote_ip, "port": str(connection.remote_port)},
        "decision": decision,
        "event": event,
    }
