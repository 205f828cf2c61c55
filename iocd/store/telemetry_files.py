"""The files of the Parquet telemetry store: naming, recovery, reading and searching one file.

See `store.telemetry` for the layout; everything here works on one file (or one folder) at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from iocd.matching.columns import EVENT_SCHEMA
from iocd.store.telemetry_hunt import STRING_COLUMNS, HuntPlan

logger = logging.getLogger(__name__)

SEGMENTS_KEY = b"iocd.segments"
SEGMENT_COLUMN = "_segment"
_CLUSTER_KEYS = [
    ("sha256", "ascending", "at_end"),
    ("remote_ip", "ascending", "at_end"),
    ("_reversed_name", "ascending", "at_end"),
]
_SMALL = re.compile(r"s-(\d{12})-(\d+)\.parquet")
_COMPACTED = re.compile(r"c-(\d{12})-(\d{12})-(\d+)\.parquet")


@dataclass(frozen=True, slots=True)
class StoredFile:
    path: Path
    day: date
    segments: tuple[tuple[int, int], ...]
    """(segment, rows) in the order the rows are stored."""
    size: int

    @property
    def rows(self) -> int:
        return sum(rows for _, rows in self.segments)

    def rows_of(self, segment: int) -> int:
        return sum(rows for number, rows in self.segments if number == segment)


def index_file(path: Path, day: date) -> tuple[StoredFile | None, int]:
    """The file's index entry (None when unusable) and the highest segment number its name shows."""
    if match := _SMALL.fullmatch(path.name):
        number, rows = int(match.group(1)), int(match.group(2))
        return StoredFile(path, day, ((number, rows),), path.stat().st_size), number
    if match := _COMPACTED.fullmatch(path.name):
        top = int(match.group(2))
        try:
            metadata = pq.read_metadata(path).metadata or {}
            segments = tuple((int(n), int(r)) for n, r in json.loads(metadata[SEGMENTS_KEY]))
        except (OSError, pa.ArrowException, KeyError, ValueError, TypeError) as exc:
            logger.warning("telemetry: skipping unreadable file %s: %s", path, exc)
            return None, top
        return StoredFile(path, day, segments, path.stat().st_size), top
    logger.warning("telemetry: ignoring unexpected file %s", path)
    return None, 0


def keep_latest(files: list[StoredFile]) -> list[StoredFile]:
    """Drop (and delete) files whose segments a compacted file of the same day already holds."""
    compacted = [f for f in files if len(f.segments) > 1 or f.path.name.startswith("c-")]
    keep: list[StoredFile] = []
    for file in files:
        numbers = {n for n, _ in file.segments}
        if any(
            other is not file and numbers <= {n for n, _ in other.segments} for other in compacted
        ):
            logger.info("telemetry: removing %s, superseded by compaction", file.path)
            file.path.unlink(missing_ok=True)
        else:
            keep.append(file)
    return keep


def clustered(table: pa.Table) -> pa.Table:
    """The rows sorted so that equal hashes, addresses and names (a name with its subdomains:
    the key is the reversed text) end up in the same row groups."""
    name = pc.coalesce(table.column("domain"), table.column("sni"))
    keys = table.select(["sha256", "remote_ip"]).append_column(
        "_reversed_name", pc.utf8_reverse(name)
    )
    return table.take(pc.sort_indices(keys, sort_keys=_CLUSTER_KEYS)).combine_chunks()


def events(table: pa.Table) -> pa.Table:
    return table.select(EVENT_SCHEMA.names).replace_schema_metadata(EVENT_SCHEMA.metadata)


def read_file(path: Path) -> pa.Table | None:
    try:
        return pq.read_table(path, memory_map=True)
    except (OSError, pa.ArrowException) as exc:
        logger.warning("telemetry: skipping unreadable file %s: %s", path, exc)
        return None


def read_slice(file: StoredFile, number: int) -> pa.Table | None:
    """The segment's rows in the file (a compacted file is read whole and filtered: only a scanner
    that lags behind compaction ever asks)."""
    table = read_file(file.path)
    if table is None:
        return None
    if SEGMENT_COLUMN in table.schema.names:
        table = table.filter(pc.equal(table.column(SEGMENT_COLUMN), number))
    return events(table)


def hunt_file(
    file: StoredFile, plan: HuntPlan, window: tuple[datetime, datetime | None] | None
) -> list[pa.RecordBatch]:
    """Matching rows of one file: read the tested columns of each row group (strings as their
    dictionaries), and the whole row group only when something in it matches."""
    found: list[pa.RecordBatch] = []
    keys = plan.columns + (["time"] if window else [])
    strings = [name for name in STRING_COLUMNS if name in keys]
    try:
        tested = pq.ParquetFile(file.path, memory_map=True, read_dictionary=strings)
        whole: pq.ParquetFile | None = None
        positions = {name: tested.schema_arrow.get_field_index(name) for name in plan.columns}
        for index in range(tested.num_row_groups):
            if not may_match(plan, tested.metadata.row_group(index), positions):
                continue
            columns = tested.read_row_group(index, columns=keys, use_threads=False)
            mask = plan.mask(columns)
            if window is not None:
                since, until = window
                times = columns.column("time")
                mask = pc.and_(mask, pc.greater_equal(times, pa.scalar(since, times.type)))
                if until is not None:
                    mask = pc.and_(mask, pc.less(times, pa.scalar(until, times.type)))
                mask = pc.fill_null(mask, False)
            if not pc.any(mask).as_py():
                continue
            whole = whole or pq.ParquetFile(file.path, memory_map=True)
            rows = whole.read_row_group(index, columns=EVENT_SCHEMA.names, use_threads=False)
            found.extend(events(rows.filter(mask)).to_batches())
    except (OSError, pa.ArrowException) as exc:
        logger.warning("telemetry: skipping unreadable file %s: %s", file.path, exc)
        return []
    return found


def may_match(plan: HuntPlan, group: pq.RowGroupMetaData, positions: dict[str, int]) -> bool:
    """Whether the row group's statistics leave room for a match in any tested column."""
    for name, position in positions.items():
        stats = group.column(position).statistics
        if stats is None:
            return True
        if stats.has_null_count and stats.null_count >= group.num_rows:
            continue  # all null
        if not stats.has_min_max:
            return True
        low, high = stats.min, stats.max
        exact = plan.exact.get(name, ())
        if any(low <= value <= high for value in exact):
            return True
        if name == "remote_ip" and plan.ip_ranges:
            first, last = int.from_bytes(low), int.from_bytes(high)
            if any(start <= last and end >= first for start, end in plan.ip_ranges):
                return True
        elif name not in plan.exact:
            return True  # names and URLs: only the all-null test applies
    return False


def delete(paths: Iterable[Path]) -> None:
    folders = set()
    for path in paths:
        path.unlink(missing_ok=True)
        folders.add(path.parent)
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty


def fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_watermark(path: Path) -> int:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return 0


def write_watermark(path: Path, number: int) -> None:
    temporary = path.with_name(f".tmp-{uuid.uuid4().hex}")
    with temporary.open("w", encoding="ascii") as out:
        out.write(f"{number}\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)
