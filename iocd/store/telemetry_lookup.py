"""Looking up one device's recent events in stored telemetry (both stores).

The Parquet store reads days newest first and, in each file, only the `device_id` and `time`
columns of row groups whose statistics leave room for the device (as their dictionaries, so the
test runs once per distinct id); a row group is read whole only when the device is in it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from iocd.matching.columns import EVENT_SCHEMA
from iocd.store.telemetry_batches import day_start, empty_events
from iocd.store.telemetry_files import StoredFile, events

logger = logging.getLogger(__name__)


def newest(parts: Iterable[pa.Table], limit: int) -> pa.Table:
    """The rows of `parts` newest first, at most `limit` of them."""
    tables = [part for part in parts if part.num_rows]
    if not tables or limit <= 0:
        return empty_events()
    table = pa.concat_tables(tables)
    order = pc.sort_indices(table, sort_keys=[("time", "descending")])
    return table.take(order.slice(0, limit))


def device_mask(table: pa.Table, device_id: str, since: datetime) -> pa.ChunkedArray:
    """True for the device's rows at or after `since` (dictionary-encoded ids allowed)."""
    ids = table.column("device_id")
    chunks = []
    for chunk in ids.chunks:
        if isinstance(chunk, pa.DictionaryArray):
            hit = pc.equal(chunk.dictionary, pa.scalar(device_id, pa.string()))
            chunks.append(pc.take(hit, chunk.indices))
        else:
            chunks.append(pc.equal(chunk, pa.scalar(device_id, pa.string())))
    same = pa.chunked_array(chunks, pa.bool_())
    times = table.column("time")
    recent = pc.greater_equal(times, pa.scalar(since, times.type))
    return pc.fill_null(pc.and_(same, recent), False)


def device_rows_of_file(file: StoredFile, device_id: str, since: datetime) -> list[pa.Table]:
    found: list[pa.Table] = []
    try:
        tested = pq.ParquetFile(file.path, memory_map=True, read_dictionary=["device_id"])
        position = tested.schema_arrow.get_field_index("device_id")
        whole: pq.ParquetFile | None = None
        for index in range(tested.num_row_groups):
            stats = tested.metadata.row_group(index).column(position).statistics
            if stats is not None and stats.has_min_max and not stats.min <= device_id <= stats.max:
                continue
            columns = tested.read_row_group(index, columns=["device_id", "time"], use_threads=False)
            mask = device_mask(columns, device_id, since)
            if not pc.any(mask).as_py():
                continue
            whole = whole or pq.ParquetFile(file.path, memory_map=True)
            rows = whole.read_row_group(index, columns=EVENT_SCHEMA.names, use_threads=False)
            found.append(events(rows.filter(mask)))
    except (OSError, pa.ArrowException) as exc:
        logger.warning("telemetry: skipping unreadable file %s: %s", file.path, exc)
        return []
    return found


def device_events_in_files(
    files_by_day: Mapping[date, list[StoredFile]], device_id: str, since: datetime, limit: int
) -> pa.Table:
    """`TelemetryStore.device_events` over a snapshot of the Parquet store's files."""
    parts: list[pa.Table] = []
    rows = 0
    for day in sorted(files_by_day, reverse=True):
        if day_start(day + timedelta(days=1)) <= since:
            break
        for file in files_by_day[day]:
            for part in device_rows_of_file(file, device_id, since):
                parts.append(part)
                rows += part.num_rows
        if rows >= limit:
            break
    return newest(parts, limit)


def device_events_in_tables(
    tables: Iterable[pa.Table], device_id: str, since: datetime, limit: int
) -> pa.Table:
    """The same over in-memory tables (the memory store)."""
    return newest((t.filter(device_mask(t, device_id, since)) for t in tables), limit)
