"""The in-process bus wakes asyncio waiters from other threads and calls listeners."""

from __future__ import annotations

import asyncio
import threading
import time

from iocd.bus.local import LocalBus


def test_waiter_is_woken_by_a_publish_from_another_thread() -> None:
    bus = LocalBus()
    heard: list[int] = []
    unsubscribe = bus.subscribe(heard.append)

    publisher = threading.Timer(0.05, bus.changed, args=(3,))

    async def main() -> tuple[int, float]:
        started = time.monotonic()
        publisher.start()
        woke = await bus.wait_beyond(0, 5)
        return woke, time.monotonic() - started

    woke, took = asyncio.run(main())
    assert woke == 3 and took < 1
    publisher.join()  # the waiter may wake before the publisher's thread has called listeners
    assert heard == [3]
    bus.changed(2)  # lower values are ignored
    unsubscribe()
    bus.changed(4)
    assert heard == [3] and bus.last == 4 and bus.waiting() == 0


def test_wait_returns_at_once_when_already_beyond_and_times_out_otherwise() -> None:
    bus = LocalBus()
    bus.changed(5)

    async def main() -> tuple[int, int]:
        return await bus.wait_beyond(4, 5), await bus.wait_beyond(5, 0.05)

    assert asyncio.run(main()) == (5, 5)
    assert bus.waiting() == 0


def test_many_waiters_without_threads() -> None:
    bus = LocalBus()

    async def main() -> list[int]:
        waiters = [asyncio.create_task(bus.wait_beyond(0, 5)) for _ in range(100)]
        await asyncio.sleep(0.01)
        assert bus.waiting() == 100
        await asyncio.to_thread(bus.changed, 1)
        return await asyncio.gather(*waiters)

    before = set(threading.enumerate())
    assert asyncio.run(main()) == [1] * 100
    # At most the one to_thread worker; other tests' servers start threads of their own.
    started = [t for t in threading.enumerate() if t not in before]
    assert sum(t.name.startswith("asyncio_") for t in started) <= 1
