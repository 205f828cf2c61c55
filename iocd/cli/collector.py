"""Python's cyclic garbage collector while a command starts, and once it works; how soon
threads hand over the GIL while a scan runs (`quick_switches`).

Starting a command (importing the CLI, SQLAlchemy, pyarrow and the command's own modules, then
opening the store) makes a few hundred thousand objects that live as long as the process. At
the interpreter's thresholds the collector goes over them again and again while they are
being made: about an eighth of `iocd scan`'s start-up on a one-event file (1.44 s against
1.63 s, medians of 7 alternating runs on two shared cores). So the entry point (iocd.main)
calls `quiet_start` before its imports, which makes the collector's passes rare, and the
command calls `started` once its instance is built (`CliState.instance`), or at once when it
builds none and may run for long (`iocd agent ...`). `started` leaves what start-up made
out of later passes and puts the interpreter's thresholds back. Objects are still freed by
reference counting as before; only those in reference cycles wait longer, and start-up
leaves few. `iocd scan` goes further and pauses the collector while it scans (`paused`).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "SCAN_SWITCH_INTERVAL",
    "START_UP_THRESHOLDS",
    "USUAL_THRESHOLDS",
    "paused",
    "quick_switches",
    "quiet_start",
    "started",
]

START_UP_THRESHOLDS = (100_000, 50, 100)
USUAL_THRESHOLDS = gc.get_threshold()


def quiet_start() -> None:
    """Collect rarely while the command starts."""
    gc.set_threshold(*START_UP_THRESHOLDS)


def started() -> None:
    """Start-up is over: what it made is left out of later passes, and the thresholds are the
    interpreter's again."""
    gc.freeze()
    gc.set_threshold(*USUAL_THRESHOLDS)


@contextmanager
def paused() -> Iterator[None]:
    """The collector paused while a scan runs, and on again after it, even when it fails.

    A scan makes and drops millions of objects, which set off passes over everything alive:
    about a tenth of `iocd scan`'s time on 10M Parquet events (17.8 s against 19.8 s, medians
    of 3 here). Reference counting still frees what a scan drops; only objects in cycles
    wait, and a 10M-event scan leaves about 5,000, left to the collector once it is over.
    What was made before (modules, the store, the index) is left out of later passes."""
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


SCAN_SWITCH_INTERVAL = 0.001
"""Seconds a thread may hold the GIL while another waits for it, during a scan (the
interpreter's is 0.005)."""


@contextmanager
def quick_switches(interval: float = SCAN_SWITCH_INTERVAL) -> Iterator[None]:
    """Threads hand the GIL over sooner while a scan runs (`interval` seconds instead of the
    interpreter's 5 ms), and as before after it, even when it fails.

    A scan's reading and writing threads spend most of their time in DuckDB, Arrow and
    SQLite, which release the GIL, and take it back for short Python steps between calls.
    Each time, they wait until the thread holding it (matching, in Python) is made to drop it
    at the switch interval. 1M NDJSON events of new telemetry: 1.92 s against 2.03 s
    (medians of 8 alternating runs on two shared cores)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
