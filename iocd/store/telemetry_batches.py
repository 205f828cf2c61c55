"""Checking incoming telemetry batches and splitting them by UTC day (shared by both stores)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iocd.errors import InvalidInput
from iocd.matching.columns import EVENT_SCHEMA

MICROS_PER_DAY = 86_400_000_000
_EPOCH = date(1970, 1, 1)


def conform(batch: pa.RecordBatch | pa.Table) -> pa.Table:
    """The batch as a table of exactly `EVENT_SCHEMA` (column order may differ on input).

    Refuses, naming the column, anything else: missing or unexpected columns, another type
    (timestamps must be microseconds in UTC), nulls in a required column.
    """
    if isinstance(batch, pa.RecordBatch):
        table = pa.Table.from_batches([batch])
    elif isinstance(batch, pa.Table):
        table = batch
    else:
        raise InvalidInput(
            "telemetry", f"expected an Arrow table or record batch, got {type(batch).__name__}"
        )
    names = table.schema.names
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput("telemetry", f"duplicate columns {duplicated}")
    missing = [n for n in EVENT_SCHEMA.names if n not in names]
    unexpected = [n for n in names if n not in EVENT_SCHEMA.names]
    if missing or unexpected:
        raise InvalidInput(
            "telemetry",
            f"columns do not match EVENT_SCHEMA: missing {missing}, unexpected {unexpected}",
        )
    for field in EVENT_SCHEMA:
        actual = table.schema.field(field.name).type
        if actual != field.type:
            raise InvalidInput(
                f"telemetry.{field.name}", f"has type {actual}, expected {field.type}"
            )
        if not field.nullable and table.column(field.name).null_count:
            raise InvalidInput(f"telemetry.{field.name}", "must not be null")
    return pa.Table.from_arrays(table.select(EVENT_SCHEMA.names).columns, schema=EVENT_SCHEMA)


def day_numbers(times: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Days since 1970-01-01 (UTC) of each timestamp."""
    micros: np.ndarray = pc.cast(times, pa.int64()).to_numpy()
    return micros // MICROS_PER_DAY


def split_by_day(table: pa.Table) -> list[tuple[date, pa.Table]]:
    """The rows of each UTC day, days ascending, row order kept within a day."""
    if table.num_rows == 0:
        return []
    days = day_numbers(table.column("time"))
    unique = np.unique(days)
    if len(unique) == 1:
        return [(day_from_number(int(unique[0])), table)]
    return [(day_from_number(int(d)), table.filter(pa.array(days == d))) for d in unique]


def day_from_number(number: int) -> date:
    return _EPOCH + timedelta(days=number)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def require_aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise InvalidInput(name, "must be timezone-aware")


def empty_events() -> pa.Table:
    return EVENT_SCHEMA.empty_table()


def segment_id(number: int) -> str:
    """Segment numbers as fixed-width text, so ids and cursors also sort as text."""
    return f"{number:012d}"


def parse_segment_id(text: str, field: str = "segment_id") -> int:
    if not isinstance(text, str) or not re.fullmatch(r"\d{1,18}", text):
        raise InvalidInput(field, f"{text!r} is not a telemetry segment id")
    return int(text)
