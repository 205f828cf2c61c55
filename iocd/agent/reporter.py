"""Alerts and telemetry to the server: batched, gzip-compressed, spooled on disk, sent in order.

Items wait in memory until a batch is due (`max_count` items, or `alert_delay` seconds after the
first alert, or `event_delay` seconds after the first event). A due batch gets a `batchId` (uuid4)
and is written to the spool as one gzip file (temp + fsync + rename) before any attempt to send
it. `deliver` sends spooled batches oldest first and deletes a batch only after the server
accepted it (a 2xx answer; `duplicate: true` means an earlier attempt already arrived, which
counts as delivered). The server deduplicates by `batchId`, so a batch sent twice (the answer was
lost, the agent restarted) is stored once: nothing is lost, nothing duplicated.

When the server is unreachable delivery stops at the first batch (order is kept) and is tried
again with growing pauses. A batch the server refuses outright (4xx other than 401/403/429) would
block every later one: it is moved to `spool/rejected/` and logged.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iocd.agent.client import AgentApiError, ServerUnreachable
from iocd.agent.files import private_dir, write_atomic

log = logging.getLogger(__name__)

Send = Callable[[bytes], dict[str, Any]]
_counter = itertools.count()


class Reporter:
    def __init__(
        self,
        spool: Path,
        send: Send | None,
        *,
        max_count: int = 500,
        alert_delay: float = 0.2,
        event_delay: float = 5.0,
        max_pause: float = 30.0,
    ) -> None:
        self.spool = spool
        self.send = send
        self.max_count = max_count
        self.alert_delay = alert_delay
        self.event_delay = event_delay
        self.max_pause = max_pause
        self.delivered = 0
        self.reachable: bool | None = None
        self._lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._alerts: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._due: float | None = None
        self._wake = threading.Event()

    def alert(self, alert: dict[str, Any]) -> None:
        with self._lock:
            self._alerts.append(alert)
            self._set_due(self.alert_delay)
        self._wake.set()

    def event(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._events.append(event)
            self._set_due(self.event_delay)

    def _set_due(self, delay: float) -> None:
        due = time.monotonic() + delay
        if len(self._alerts) + len(self._events) >= self.max_count:
            due = 0.0
        if self._due is None or due < self._due:
            self._due = due

    def flush(self) -> Path | None:
        """Spool what is waiting as one batch (returns its file, or None when nothing waits)."""
        with self._lock:
            alerts, events = self._alerts, self._events
            self._alerts, self._events, self._due = [], [], None
            if not alerts and not events:
                return None
            batch_id = str(uuid.uuid4())
            body = {"batchId": batch_id, "alerts": alerts, "events": events}
            data = gzip.compress(json.dumps(body, separators=(",", ":")).encode(), 6)
            name = f"{time.time_ns():020d}-{next(_counter):06d}-{batch_id}.json.gz"
            path = self.spool / name
            private_dir(self.spool)
            write_atomic(path, data)
        self._wake.set()
        return path

    def spooled(self) -> list[Path]:
        if not self.spool.is_dir():
            return []
        return sorted(self.spool.glob("*.json.gz"))

    def deliver(self) -> int:
        """Send spooled batches in order until one fails; returns how many were delivered."""
        if self.send is None:
            return 0
        count = 0
        with self._deliver_lock:
            for path in self.spooled():
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue  # delivered by another process sharing the spool
                try:
                    answer = self.send(data)
                except ServerUnreachable as error:
                    self.reachable = False
                    log.info("reports: server unreachable (%s); batches stay spooled", error)
                    break
                except AgentApiError as error:
                    self.reachable = True
                    if error.status in (401, 403) or error.status >= 500:
                        log.warning("reports: %s; batch kept", error)
                        break
                    log.error("reports: batch %s refused (%s); set aside", path.name, error)
                    rejected = private_dir(self.spool / "rejected")
                    path.replace(rejected / path.name)
                    continue
                self.reachable = True
                log.debug("reports: %s delivered: %s", path.name, answer)
                path.unlink(missing_ok=True)
                count += 1
        self.delivered += count
        return count

    def run(self, stop: threading.Event, tick: float = 0.1) -> None:
        """Flush when due and deliver, until `stop` is set (then flush and try once more)."""
        pause = 0.0
        retry_at = 0.0
        while not stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            now = time.monotonic()
            with self._lock:
                due = self._due is not None and now >= self._due
            if due:
                self.flush()
            if now >= retry_at and self.spooled():
                self.deliver()
                if self.reachable is False and self.spooled():
                    pause = min(max(pause * 2, 0.5), self.max_pause)
                    retry_at = time.monotonic() + pause
                else:
                    pause, retry_at = 0.0, 0.0
        self.flush()
        self.deliver()
