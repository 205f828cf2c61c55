"""The change bus across processes: "changed(seq)" over NATS, for the distributed deployment.

Several API processes share one PostgreSQL store; a write lands through one of them, but agents
long-poll every one of them and every process keeps its own detection index. `NatsBus` is a
LocalBus (same listeners and asyncio waiters) that also publishes each value to the NATS subject
`<prefix>.changed` and feeds the values other processes publish into itself, so a change made
through any process wakes the agents parked on all of them within milliseconds.

A message carries only the sequence value (ASCII digits): the store stays the source of truth,
and a process that misses a message (NATS down, a reconnect) catches up at its next detection
step, which folds every change since its index's sequence and publishes it again (api.app).
Core NATS publish/subscribe is enough for that: nothing is lost that the store does not hold.
The NATS client is asyncio; it runs on its own thread and event loop, so writers on any thread
publish without waiting for the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from iocd.bus.local import LocalBus

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0


class NatsBus(LocalBus):
    def __init__(self, url: str, prefix: str = "iocd") -> None:
        super().__init__()
        self.url = url
        self.subject = f"{prefix}.changed"
        self._loop = asyncio.new_event_loop()
        self._client: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="iocd-nats-bus", daemon=True)

    def start(self) -> NatsBus:
        """Connect and subscribe (ConnectionError when NATS cannot be reached in time)."""
        self._thread.start()
        if not self._ready.wait(CONNECT_TIMEOUT_SECONDS + 1) or self._error is not None:
            self.close()
            reason = self._error or "no answer"
            raise ConnectionError(f"cannot reach NATS at {self.url}: {reason}")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._connect())
        except Exception as error:  # reported by start()
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _connect(self) -> None:
        import nats

        self._client = await nats.connect(
            self.url,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            max_reconnect_attempts=-1,
            allow_reconnect=True,
            error_cb=self._on_error,
        )
        await self._client.subscribe(self.subject, cb=self._on_message)

    async def _on_error(self, error: Exception) -> None:
        log.warning("NATS bus: %s", error)

    async def _on_message(self, message: Any) -> None:
        try:
            sequence = int(message.data)
        except ValueError:
            log.warning("NATS bus: ignored a message that is not a sequence value")
            return
        LocalBus.changed(self, sequence)

    def changed(self, sequence: int) -> None:
        """Publish here at once, and to every other process through NATS."""
        before = self.last
        super().changed(sequence)
        if sequence > before and self._client is not None and not self._loop.is_closed():
            payload = str(sequence).encode()
            with contextlib.suppress(RuntimeError):  # the loop is stopping
                asyncio.run_coroutine_threadsafe(self._publish(payload), self._loop)

    async def _publish(self, payload: bytes) -> None:
        try:
            await self._client.publish(self.subject, payload)
        except Exception as error:  # NATS away: the others catch up from the store
            log.warning("NATS bus: could not publish: %s", error)

    def close(self) -> None:
        if self._loop.is_closed():
            return
        if self._client is not None and self._loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._client.drain(), self._loop)
            with contextlib.suppress(Exception):
                done.result(CONNECT_TIMEOUT_SECONDS)
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread.is_alive():
            self._thread.join(CONNECT_TIMEOUT_SECONDS)
        if not self._loop.is_running():
            self._loop.close()
