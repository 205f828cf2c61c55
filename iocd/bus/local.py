"""The in-process change bus: "changed(seq)" from the write path to whoever waits for it.

Writers (IndicatorService, the expiry sweeper) call `changed(sequence)` from any thread after
their transaction committed. Listeners are plain callbacks (called on the writer's thread: keep
them short) or asyncio waiters: `await bus.wait_beyond(seq, timeout)` parks a long-polling
request on its event loop without holding a thread, and is woken through
`loop.call_soon_threadsafe` as soon as a value above `seq` is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

Listener = Callable[[int], None]


class LocalBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0
        self._listeners: list[Listener] = []
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[int]]] = []

    @property
    def last(self) -> int:
        """The highest sequence value published so far (0 before any)."""
        return self._last

    def changed(self, sequence: int) -> None:
        """Publish: the change sequence now stands at `sequence` (lower values are ignored)."""
        with self._lock:
            if sequence <= self._last:
                return
            self._last = sequence
            due = [w for w in self._waiters if w[0] < sequence]
            self._waiters = [w for w in self._waiters if w[0] >= sequence]
            listeners = list(self._listeners)
        for _, loop, future in due:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future, sequence)
        for listener in listeners:
            listener(sequence)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(sequence)` on every publish; returns the unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe

    async def wait_beyond(self, sequence: int, timeout: float) -> int:
        """The first published value above `sequence`, or the last one on timeout."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        waiter = (sequence, loop, future)
        with self._lock:
            if self._last > sequence:
                return self._last
            self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return self._last
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    def close(self) -> None:
        """Release what the bus holds (nothing in one process; see bus.nats)."""

    def waiting(self) -> int:
        """How many asyncio waiters are parked (for tests and status)."""
        with self._lock:
            return len(self._waiters)


def _resolve(future: asyncio.Future[int], sequence: int) -> None:
    if not future.done():
        future.set_result(sequence)
