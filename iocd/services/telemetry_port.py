"""The port through which the services keep and search collected telemetry (issue 4).

Telemetry is stored as Arrow batches of `matching.columns.EVENT_SCHEMA`, partitioned by the UTC
day of each event's `time`. Every append becomes one *segment* (one file per day it touches);
segments are numbered in the order they were appended, which gives the background scanner a
cursor it can persist, and retro-hunt searches all segments of a time window at once.
Concrete stores: `store.telemetry.ParquetTelemetryStore` (disk) and
`store.memory_telemetry.MemoryTelemetryStore` (tests); both pass one contract suite
(tests/store/test_telemetry_store.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Protocol

import pyarrow as pa

from iocd.domain.decision import ListedIndicator
from iocd.domain.segments import SegmentInfo, TelemetryStats

__all__ = ["SegmentInfo", "TelemetryStats", "TelemetryStore"]


class TelemetryStore(Protocol):
    """Durable, day-partitioned event storage with an append-order cursor and a fast search.

    Thread-safe within one process: API workers append while the scanner and retro-hunts read.
    """

    def append(self, batch: pa.RecordBatch | pa.Table) -> SegmentInfo:
        """Store the events durably (on disk and flushed) before returning.

        Raises `InvalidInput` when the batch does not have `EVENT_SCHEMA`'s columns and types or a
        required column holds nulls; nothing is stored then.
        """
        ...

    def segments_after(self, cursor: str | None, limit: int) -> list[SegmentInfo]:
        """Up to `limit` segments appended after `cursor` (None: from the first), in append order.

        A segment is listed only once every segment appended before it is complete, so a scanner
        that moves its cursor to the last segment it read never skips one. Segments whose days
        were all purged are no longer listed; compaction changes nothing here.
        """
        ...

    def read_segment(self, segment_id: str) -> pa.Table:
        """The rows of one segment (`EVENT_SCHEMA`), days ascending; within a day in append order
        until compaction, which may reorder them. Empty when unknown or purged."""
        ...

    def hunt(
        self,
        indicators: Sequence[ListedIndicator],
        since: datetime,
        until: datetime | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Rows with `since <= time < until` that could match any of the indicators.

        A superset is allowed (URLs are matched by prefix, many URL indicators by host only): the
        caller re-checks every row with the full matcher. Batches carry all `EVENT_SCHEMA`
        columns; their order is unspecified. `since`/`until` must be timezone-aware.
        """
        ...

    def device_events(self, device_id: str, since: datetime, limit: int) -> pa.Table:
        """The device's most recent events with `time >= since`, newest first, at most `limit`
        rows (`EVENT_SCHEMA`). Days are read newest first and reading stops once a day has
        made up the limit. `since` must be timezone-aware."""
        ...

    def purge(self, before: datetime) -> int:
        """Drop every day partition that lies wholly before `before`; returns the rows removed."""
        ...

    def compact(self, day: date) -> None:
        """Merge the day's small files (one per append) into larger ones. Rows, segment ids and
        cursors are unchanged. Safe on any day, also while appends and searches run."""
        ...

    def stats(self) -> TelemetryStats: ...
