"""`TelemetryStore` in memory: the twin of `store.telemetry` for tests and trials."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from iocd.domain.decision import ListedIndicator
from iocd.domain.segments import SegmentInfo, TelemetryStats
from iocd.store.telemetry_batches import (
    conform,
    day_start,
    empty_events,
    parse_segment_id,
    require_aware,
    segment_id,
    split_by_day,
)
from iocd.store.telemetry_hunt import HuntPlan
from iocd.store.telemetry_lookup import device_events_in_tables


class MemoryTelemetryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._segments: dict[int, dict[date, pa.Table]] = {}
        self._order: list[int] = []
        self._next = 1

    def append(self, batch: pa.RecordBatch | pa.Table) -> SegmentInfo:
        table = conform(batch)
        parts = split_by_day(table)
        with self._lock:
            number = self._next
            self._next += 1
            if parts:
                self._segments[number] = dict(parts)
                self._order.append(number)
        return SegmentInfo(segment_id(number), table.num_rows, tuple(day for day, _ in parts))

    def segments_after(self, cursor: str | None, limit: int) -> list[SegmentInfo]:
        after = -1 if cursor is None else parse_segment_id(cursor, "cursor")
        with self._lock:
            start = bisect.bisect_right(self._order, after)
            return [self._info(n) for n in self._order[start : start + max(limit, 0)]]

    def _info(self, number: int) -> SegmentInfo:
        days = self._segments[number]
        return SegmentInfo(
            segment_id(number), sum(t.num_rows for t in days.values()), tuple(sorted(days))
        )

    def read_segment(self, segment_id: str) -> pa.Table:
        number = parse_segment_id(segment_id)
        with self._lock:
            days = self._segments.get(number, {})
            parts = [days[day] for day in sorted(days)]
        return pa.concat_tables(parts) if parts else empty_events()

    def hunt(
        self,
        indicators: Sequence[ListedIndicator],
        since: datetime,
        until: datetime | None = None,
    ) -> Iterator[pa.RecordBatch]:
        require_aware("since", since)
        require_aware("until", until)
        plan = HuntPlan.compile(indicators)
        if plan.empty or (until is not None and until <= since):
            return iter(())
        with self._lock:
            tables = [
                table
                for days in self._segments.values()
                for day, table in days.items()
                if day_start(day + timedelta(days=1)) > since
                and (until is None or day_start(day) < until)
            ]
        return self._hunt(plan, tables, since, until)

    @staticmethod
    def _hunt(
        plan: HuntPlan, tables: list[pa.Table], since: datetime, until: datetime | None
    ) -> Iterator[pa.RecordBatch]:
        for table in tables:
            times = table.column("time")
            mask = pc.and_(plan.mask(table), pc.greater_equal(times, pa.scalar(since, times.type)))
            if until is not None:
                mask = pc.and_(mask, pc.less(times, pa.scalar(until, times.type)))
            found = table.filter(mask)
            if found.num_rows:
                yield from found.to_batches()

    def device_events(self, device_id: str, since: datetime, limit: int) -> pa.Table:
        require_aware("since", since)
        with self._lock:
            tables = [
                table
                for days in self._segments.values()
                for day, table in days.items()
                if day_start(day + timedelta(days=1)) > since
            ]
        return device_events_in_tables(tables, device_id, since, limit)

    def purge(self, before: datetime) -> int:
        require_aware("before", before)
        removed = 0
        with self._lock:
            for number in list(self._segments):
                days = self._segments[number]
                for day in [d for d in days if day_start(d + timedelta(days=1)) <= before]:
                    removed += days.pop(day).num_rows
                if not days:
                    del self._segments[number]
            self._order = sorted(self._segments)
        return removed

    def compact(self, day: date) -> None:
        """Nothing to merge in memory; rows and segments stay as they are."""

    def stats(self) -> TelemetryStats:
        with self._lock:
            tables = [(d, t) for days in self._segments.values() for d, t in days.items()]
        days = sorted({d for d, _ in tables})
        return TelemetryStats(
            days=len(days),
            files=len(tables),
            rows=sum(t.num_rows for _, t in tables),
            bytes=sum(t.nbytes for _, t in tables),
            segments=len(self._order),
            oldest_day=days[0] if days else None,
            newest_day=days[-1] if days else None,
        )
