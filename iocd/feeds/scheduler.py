"""The feed scheduler inside `iocd serve`: a background task that runs due feeds.

It calls the service's `run_due(stop)` in a worker thread (one feed at a time; a feed never
overlaps itself, see services.feeds) and sleeps `interval` seconds between passes. `stop()`
asks a run in progress to end after its current chunk, so the server shuts down promptly.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("iocd.feeds")
TICK_SECONDS = 15.0


class FeedScheduler:
    def __init__(
        self, run_due: Callable[[threading.Event], int], interval: float = TICK_SECONDS
    ) -> None:
        self._run_due = run_due
        self._interval = interval
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._forever())
        return self._task

    def stop(self) -> None:
        self._stop.set()

    async def _forever(self) -> None:
        while not self._stop.is_set():
            try:
                ran = await asyncio.to_thread(self._run_due, self._stop)
                if ran:
                    log.info("ran %d feeds", ran)
            except Exception:
                log.exception("feed scheduler pass failed; retrying")
            await asyncio.sleep(self._interval)
