"""What stored telemetry shows of one entity, summarised columnar (pyarrow `group_by`).

The rows come from the telemetry store (`EVENT_SCHEMA`, with `device_group` filled by the
caller); nothing here loops over rows in Python except the few result rows shown on a page.
A *facet* is one view of the rows grouped by some columns (e.g. a file's names and paths), each
group with its number of events, distinct devices, first and last time seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from iocd.domain.accounts import UNGROUPED
from iocd.domain.telemetry import TelemetryEvent
from iocd.matching.columns import HASH_COLUMNS, batch_to_events, bytes_to_ip

FACET_ROWS = 50
DEVICE_ROWS = 100
RECENT_EVENTS = 25


@dataclass(frozen=True, slots=True)
class FacetRow:
    values: tuple[str | None, ...]
    events: int
    devices: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device_id: str
    name: str | None
    group: str
    events: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class TelemetrySummary:
    """`events` and `device_count` are the prevalence; `truncated` says the store held more
    rows than were read (the figures are then lower bounds)."""

    since: datetime
    events: int = 0
    device_count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    devices: list[DeviceRow] = field(default_factory=list)
    facets: dict[str, list[FacetRow]] = field(default_factory=dict)
    recent: list[TelemetryEvent] = field(default_factory=list)
    truncated: bool = False


def assign_groups(table: pa.Table, group_of: Callable[[str], str]) -> pa.Table:
    """The rows with `device_group` set from each device's name (or id when it has none),
    computed once per distinct device."""
    if table.num_rows == 0:
        return table
    names = table.column("device_name")
    key = pc.if_else(pc.is_null(names), table.column("device_id"), names).combine_chunks()
    encoded = key.dictionary_encode()
    groups = pa.array([group_of(str(v)) for v in encoded.dictionary.to_pylist()], pa.string())
    index = table.schema.get_field_index("device_group")
    return table.set_column(index, "device_group", groups.take(encoded.indices))


def within_groups(table: pa.Table, groups: frozenset[str]) -> pa.Table:
    """Only the rows of devices in these groups."""
    wanted = pa.array(sorted(groups), pa.string())
    return table.filter(pc.fill_null(pc.is_in(table.column("device_group"), wanted), False))


def summarise(
    table: pa.Table,
    since: datetime,
    facets: Mapping[str, Sequence[str]],
    *,
    truncated: bool = False,
    recent: int = RECENT_EVENTS,
) -> TelemetrySummary:
    """Prevalence, devices, the facets (name -> columns grouped by) and the latest events."""
    if table.num_rows == 0:
        return TelemetrySummary(since, facets={name: [] for name in facets})
    times = table.column("time")
    device_count, devices = _devices(table)
    return TelemetrySummary(
        since=since,
        events=table.num_rows,
        device_count=device_count,
        first_seen=_aware(pc.min(times).as_py()),
        last_seen=_aware(pc.max(times).as_py()),
        devices=devices,
        facets={name: facet(table, list(columns)) for name, columns in facets.items()},
        recent=latest_events(table, recent),
        truncated=truncated,
    )


def _devices(table: pa.Table) -> tuple[int, list[DeviceRow]]:
    """How many distinct devices, and the DEVICE_ROWS seen last."""
    grouped = table.group_by("device_id", use_threads=False).aggregate(
        [
            ("time", "count"),
            ("time", "min"),
            ("time", "max"),
            ("device_name", "last"),
            ("device_group", "last"),
        ]
    )
    order = pc.sort_indices(grouped, sort_keys=[("time_max", "descending")])
    rows = grouped.take(order.slice(0, DEVICE_ROWS)).to_pylist()
    devices = [
        DeviceRow(
            r["device_id"],
            r["device_name_last"],
            r["device_group_last"] or UNGROUPED,
            r["time_count"],
            _aware(r["time_min"]),
            _aware(r["time_max"]),
        )
        for r in rows
    ]
    return grouped.num_rows, devices


def facet(table: pa.Table, columns: list[str], limit: int = FACET_ROWS) -> list[FacetRow]:
    """Rows grouped by `columns` (rows where all of them are null left out), most events
    first."""
    present = pc.is_valid(table.column(columns[0]))
    for name in columns[1:]:
        present = pc.or_(present, pc.is_valid(table.column(name)))
    chosen = table.select([*columns, "time", "device_id"]).filter(present)
    if chosen.num_rows == 0:
        return []
    grouped = chosen.group_by(columns, use_threads=False).aggregate(
        [("time", "count"), ("time", "min"), ("time", "max"), ("device_id", "count_distinct")]
    )
    order = pc.sort_indices(
        grouped, sort_keys=[("time_count", "descending"), ("time_max", "descending")]
    )
    rows = grouped.take(order.slice(0, limit)).to_pylist()
    return [
        FacetRow(
            tuple(_text(name, r[name]) for name in columns),
            r["time_count"],
            r["device_id_count_distinct"],
            _aware(r["time_min"]),
            _aware(r["time_max"]),
        )
        for r in rows
    ]


def latest_events(table: pa.Table, count: int) -> list[TelemetryEvent]:
    if table.num_rows == 0 or count <= 0:
        return []
    order = pc.sort_indices(table, sort_keys=[("time", "descending")]).slice(0, count)
    chosen = table.take(order).combine_chunks()
    return [event for batch in chosen.to_batches() for event in batch_to_events(batch)]


def most_common(rows: list[FacetRow], position: int = 0) -> str | None:
    """The value at `position` of the facet's most frequent row that has one."""
    return next((r.values[position] for r in rows if r.values[position] is not None), None)


def _text(column: str, value: Any) -> str | None:
    if value is None:
        return None
    if column in HASH_COLUMNS:
        return bytes(value).hex()
    if column == "remote_ip":
        return bytes_to_ip(bytes(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
