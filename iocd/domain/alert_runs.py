"""Deduplication of many detections at once (SPEC section 6), over arrays.

The rule (services.alerts): detections of one dedupe key fold into one open alert while each
lies within the dedupe window of that alert's events, `first - window <= t <= last + window`.
Taken in time order, that is: a key's detections fold into its stored open alert (if any) for
as long as each is within the window of the alert as it has grown so far; the first one that
is not starts a new alert, and from there a detection more than the window after the previous
one starts another.

`alert_runs` works that out for a whole batch without a Python step per detection. Its input is
sorted by (key, time); its answer says, per key, how many of its first detections fold into the
stored alert, and where each new alert's run of detections begins and ends. Times are integers
(microseconds); pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Runs", "alert_runs"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Runs:
    """`stored_count[k]`: how many of key k's detections (its first ones in time order) fold
    into its stored open alert (0 without one). New alert j stands for detections
    `run_first[j]` to `run_last[j]` inclusive (positions in the sorted input)."""

    stored_count: IntArray
    run_first: IntArray
    run_last: IntArray


def alert_runs(
    key_start: BoolArray,
    times: IntArray,
    stored: BoolArray,
    stored_first: IntArray,
    stored_last: IntArray,
    window: int,
) -> Runs:
    """`key_start[i]`: detection i is its key's first (the input is sorted by key, then time).
    Per key (in order): whether it has a stored open alert, and that alert's first and last
    event times."""
    count = len(times)
    keys = np.cumsum(key_start, dtype=np.int64) - 1
    if not count:
        empty = np.zeros(0, dtype=np.int64)
        return Runs(np.zeros(len(stored), dtype=np.int64), empty, empty)
    previous = np.empty(count, dtype=np.int64)
    previous[0] = times[0]
    previous[1:] = times[:-1]
    last = stored_last[keys]
    # How far the stored alert reaches when detection i comes: its last event time, widened
    # by the key's earlier detections (which, sorted, end at the previous one).
    reach = np.where(key_start, last, np.maximum(last, previous))
    fits = stored[keys] & (times >= stored_first[keys] - window) & (times <= reach + window)
    misses = np.cumsum(~fits, dtype=np.int64)
    before_key = (misses - ~fits)[key_start]  # misses before each key's first detection
    folded = misses == before_key[keys]
    stored_count = np.bincount(keys[folded], minlength=len(stored)).astype(np.int64)
    rest = np.flatnonzero(~folded)
    if not len(rest):
        empty = np.zeros(0, dtype=np.int64)
        return Runs(stored_count, empty, empty)
    starts = key_start[rest].copy()
    starts[1:] |= keys[rest[1:]] != keys[rest[:-1]]
    starts |= folded[np.maximum(rest - 1, 0)] & ~key_start[rest]  # the first that did not fit
    starts |= times[rest] - previous[rest] > window
    first_at = np.flatnonzero(starts)
    last_at = np.append(first_at[1:] - 1, len(rest) - 1)
    return Runs(stored_count, rest[first_at], rest[last_at])
