"""Telemetry on disk: Parquet files partitioned by UTC day (see docs/telemetry-store.md).

    <root>/day=YYYY-MM-DD/s-<segment:012>-<rows>.parquet              one append's rows of that day
    <root>/day=YYYY-MM-DD/c-<first:012>-<last:012>-<n>.parquet        n segments, compacted
    <root>/last-segment                                               highest segment id ever used

The directory is the whole truth: names carry the append order (segment numbers) and row counts,
a compacted file lists its segments and their row counts in its footer (`iocd.segments`) and
keeps each row's segment in a hidden `_segment` column. Compaction sorts a day's rows by
(sha256, remote_ip, reversed domain) so equal values share row groups: a search skips row groups
whose Parquet statistics (min/max, all-null) rule a match out, and reads few in full. Every
file is written to a `.tmp-*` name, flushed, renamed into place and its directory flushed, so a
file is complete or absent. Opening the store removes temporary leftovers and files a finished
compaction superseded (a crash between its rename and its deletes).

Concurrency (one process): one lock guards the in-memory index; appends write their files
outside it. Files that compaction or retention remove while a search may still read them are
deleted when the last reader finishes.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from iocd.domain.decision import ListedIndicator
from iocd.domain.segments import SegmentInfo, TelemetryStats
from iocd.matching.columns import EVENT_SCHEMA
from iocd.store.telemetry_batches import (
    conform,
    day_start,
    empty_events,
    parse_segment_id,
    require_aware,
    segment_id,
    split_by_day,
)
from iocd.store.telemetry_files import (
    SEGMENT_COLUMN,
    SEGMENTS_KEY,
    StoredFile,
    clustered,
    delete,
    fsync_dir,
    hunt_file,
    index_file,
    keep_latest,
    read_file,
    read_slice,
    read_watermark,
    write_watermark,
)
from iocd.store.telemetry_hunt import HuntPlan
from iocd.store.telemetry_lookup import device_events_in_files

ROW_GROUP_ROWS = 16_384
"""Rows per Parquet row group: the unit a search reads in full when it finds something, so kept
small (a hit costs ~5 ms instead of ~40 ms at 128k rows) for ~25% more disk than 128k groups."""
COMPACT_TARGET_ROWS = 1_048_576
"""Compaction merges files smaller than this into files of about this many rows."""
COMPRESSION = "zstd"
_DAY_DIR = re.compile(r"day=(\d{4}-\d{2}-\d{2})")
_WATERMARK = "last-segment"


class ParquetTelemetryStore:
    """`TelemetryStore` on Parquet files under `root` (the data directory's `telemetry/`)."""

    def __init__(self, root: Path, *, workers: int | None = None) -> None:
        self.root = root
        self._workers = workers or min(8, os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._maintenance = threading.Lock()
        self._days: dict[date, list[StoredFile]] = {}
        self._where: dict[int, dict[date, StoredFile]] = {}
        self._order: list[int] = []
        self._in_flight: set[int] = set()
        self._readers = 0
        self._doomed: list[Path] = []
        root.mkdir(parents=True, exist_ok=True)
        self._next = self._open() + 1

    # -- opening -------------------------------------------------------------------------------

    def _open(self) -> int:
        """Index the directory, clean up after a crash; returns the highest segment number."""
        highest = read_watermark(self.root / _WATERMARK)
        for leftover in self.root.glob(".tmp-*"):
            leftover.unlink(missing_ok=True)
        for folder in sorted(self.root.iterdir()):
            match = _DAY_DIR.fullmatch(folder.name)
            if not folder.is_dir() or not match:
                continue
            day = date.fromisoformat(match.group(1))
            files: list[StoredFile] = []
            for path in sorted(folder.iterdir()):
                if path.name.startswith(".tmp-"):
                    path.unlink(missing_ok=True)
                    continue
                found, top = index_file(path, day)
                highest = max(highest, top)
                if found is not None:
                    files.append(found)
            for file in keep_latest(files):
                self._add_file(file)
        self._order = sorted(self._where)
        return highest

    def _add_file(self, file: StoredFile) -> None:
        self._days.setdefault(file.day, []).append(file)
        for number, _ in file.segments:
            self._where.setdefault(number, {})[file.day] = file

    # -- writing -------------------------------------------------------------------------------

    def append(self, batch: pa.RecordBatch | pa.Table) -> SegmentInfo:
        table = conform(batch)
        parts = split_by_day(table)
        with self._lock:
            number = self._next
            self._next += 1
            self._in_flight.add(number)
        written: list[StoredFile] = []
        try:
            for day, part in parts:
                path = self._day_dir(day) / f"s-{segment_id(number)}-{part.num_rows}.parquet"
                size = self._write(part, path)
                written.append(StoredFile(path, day, ((number, part.num_rows),), size))
        except BaseException:
            for file in written:
                file.path.unlink(missing_ok=True)
            with self._lock:
                self._in_flight.discard(number)
            raise
        with self._lock:
            for file in written:
                self._add_file(file)
            if written:
                bisect.insort(self._order, number)
            self._in_flight.discard(number)
        return SegmentInfo(segment_id(number), table.num_rows, tuple(day for day, _ in parts))

    def _day_dir(self, day: date) -> Path:
        return self.root / f"day={day.isoformat()}"

    def _write(
        self, table: pa.Table, path: Path, metadata: dict[bytes, bytes] | None = None
    ) -> int:
        """Write durably: temporary name, flush, rename, flush the directory. Returns the size."""
        if metadata:
            table = table.replace_schema_metadata(metadata)
        for attempt in range(2):
            new_dir = not path.parent.exists()
            path.parent.mkdir(parents=True, exist_ok=True)
            if new_dir:
                fsync_dir(path.parent.parent)
            temporary = path.parent / f".tmp-{uuid.uuid4().hex}"
            try:
                with temporary.open("xb") as out:
                    pq.write_table(
                        table, out, compression=COMPRESSION, row_group_size=ROW_GROUP_ROWS
                    )
                    out.flush()
                    os.fsync(out.fileno())
                break
            except FileNotFoundError:
                # retention removed the (empty) day folder between mkdir and open
                if attempt:
                    raise
        try:
            size = temporary.stat().st_size
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)
        return size

    # -- the scanner's cursor ------------------------------------------------------------------

    def segments_after(self, cursor: str | None, limit: int) -> list[SegmentInfo]:
        after = -1 if cursor is None else parse_segment_id(cursor, "cursor")
        with self._lock:
            ceiling = min(self._in_flight, default=None)
            start = bisect.bisect_right(self._order, after)
            out: list[SegmentInfo] = []
            for number in self._order[start:]:
                if len(out) >= max(limit, 0) or (ceiling is not None and number > ceiling):
                    break
                out.append(self._info(number))
            return out

    def _info(self, number: int) -> SegmentInfo:
        where = self._where.get(number, {})
        rows = sum(file.rows_of(number) for file in where.values())
        return SegmentInfo(segment_id(number), rows, tuple(sorted(where)))

    def read_segment(self, segment_id: str) -> pa.Table:
        number = parse_segment_id(segment_id)
        with self._reading() as _:
            with self._lock:
                where = dict(self._where.get(number, {}))
            files = [where[day] for day in sorted(where)]
            parts = [part for file in files if (part := read_slice(file, number)) is not None]
        return pa.concat_tables(parts) if parts else empty_events()

    # -- retro-hunt ----------------------------------------------------------------------------

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
        return self._hunt(plan, since, until)

    def _hunt(
        self, plan: HuntPlan, since: datetime, until: datetime | None
    ) -> Iterator[pa.RecordBatch]:
        with self._reading() as files_by_day:
            tasks: list[tuple[StoredFile, bool]] = []
            for day, files in sorted(files_by_day.items()):
                start, end = day_start(day), day_start(day + timedelta(days=1))
                if end <= since or (until is not None and start >= until):
                    continue
                whole = start >= since and (until is None or end <= until)
                tasks.extend((file, whole) for file in files)
            pool = ThreadPoolExecutor(self._workers, thread_name_prefix="iocd-hunt")
            try:
                futures: list[Future[list[pa.RecordBatch]]] = [
                    pool.submit(hunt_file, file, plan, None if whole else (since, until))
                    for file, whole in tasks
                ]
                for future in futures:
                    yield from future.result()
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    def device_events(self, device_id: str, since: datetime, limit: int) -> pa.Table:
        require_aware("since", since)
        with self._reading() as files_by_day:
            return device_events_in_files(files_by_day, device_id, since, limit)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[dict[date, list[StoredFile]]]:
        """A snapshot of the files; none of them is deleted before the block ends."""
        with self._lock:
            self._readers += 1
            snapshot = {day: list(files) for day, files in self._days.items()}
        try:
            yield snapshot
        finally:
            with self._lock:
                self._readers -= 1
                doomed = self._doomed if self._readers == 0 else []
                if doomed:
                    self._doomed = []
            delete(doomed)

    def _retire(self, paths: Iterable[Path]) -> None:
        with self._lock:
            if self._readers:
                self._doomed.extend(paths)
                return
        delete(paths)

    # -- maintenance ---------------------------------------------------------------------------

    def purge(self, before: datetime) -> int:
        require_aware("before", before)
        with self._maintenance:
            with self._lock:
                days = [d for d in self._days if day_start(d + timedelta(days=1)) <= before]
                if not days:
                    return 0
                write_watermark(self.root / _WATERMARK, self._next - 1)
                removed = [file for day in days for file in self._days.pop(day)]
                for file in removed:
                    for number, _ in file.segments:
                        where = self._where.get(number, {})
                        where.pop(file.day, None)
                        if not where:
                            self._where.pop(number, None)
                self._order = sorted(self._where)
            self._retire(file.path for file in removed)
            return sum(file.rows for file in removed)

    def compact(self, day: date) -> None:
        with self._maintenance:
            with self._lock:
                small = [f for f in self._days.get(day, []) if f.rows < COMPACT_TARGET_ROWS]
            small.sort(key=lambda f: f.segments[0][0])
            for group in _groups(small):
                self._compact_group(day, group)

    def _compact_group(self, day: date, group: list[StoredFile]) -> None:
        tables: list[pa.Table] = []
        used: list[StoredFile] = []
        for file in group:
            table = read_file(file.path)
            if table is None:
                continue
            if SEGMENT_COLUMN not in table.schema.names:
                number = pa.array([file.segments[0][0]] * table.num_rows, pa.int64())
                table = table.append_column(SEGMENT_COLUMN, number)
            tables.append(table.select([*EVENT_SCHEMA.names, SEGMENT_COLUMN]))
            used.append(file)
        if len(used) < 2:
            return
        segments = tuple(pair for file in used for pair in file.segments)
        numbers = [number for number, _ in segments]
        name = f"c-{segment_id(min(numbers))}-{segment_id(max(numbers))}-{len(numbers)}.parquet"
        path = self._day_dir(day) / name
        merged = clustered(pa.concat_tables(tables))
        size = self._write(merged, path, {SEGMENTS_KEY: json.dumps(segments).encode()})
        compacted = StoredFile(path, day, segments, size)
        with self._lock:
            gone = {file.path for file in used}
            kept = [f for f in self._days.get(day, []) if f.path not in gone]
            if day not in self._days:  # purged meanwhile (cannot happen under _maintenance)
                self._retire([path])
                return
            self._days[day] = [*kept, compacted]
            for number in numbers:
                self._where.setdefault(number, {})[day] = compacted
        self._retire(file.path for file in used)

    def stats(self) -> TelemetryStats:
        with self._lock:
            files = [file for day_files in self._days.values() for file in day_files]
            days = sorted(d for d, f in self._days.items() if f)
            return TelemetryStats(
                days=len(days),
                files=len(files),
                rows=sum(file.rows for file in files),
                bytes=sum(file.size for file in files),
                segments=len(self._order),
                oldest_day=days[0] if days else None,
                newest_day=days[-1] if days else None,
            )


# -- helpers ----------------------------------------------------------------------------------


def _groups(files: list[StoredFile]) -> Iterator[list[StoredFile]]:
    group: list[StoredFile] = []
    rows = 0
    for file in files:
        group.append(file)
        rows += file.rows
        if rows >= COMPACT_TARGET_ROWS:
            yield group
            group, rows = [], 0
    if len(group) > 1:
        yield group
