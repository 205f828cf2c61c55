"""Grouped alert counts for dashboards (store.alerts.SqlAlerts delegates here): one GROUP BY
each, whatever the number of alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, func, select, type_coerce
from sqlalchemy.types import Float

from iocd.store.filters import Compiler
from iocd.store.tables import alerts
from iocd.store.types import to_micros

MICROS_PER_DAY = 86_400_000_000


def count_by(
    conn: Connection,
    compiler: Compiler,
    conditions: Sequence[ColumnElement[bool]],
    fields: Sequence[str],
) -> dict[tuple[str | None, ...], int]:
    columns = [compiler.group_column(name) for name in fields]
    stmt = select(*columns, func.count()).select_from(alerts).where(*conditions).group_by(*columns)
    return {tuple(row[:-1]): int(row[-1]) for row in conn.execute(stmt).all()}


def _day_of(conn: Connection, since: datetime) -> Any:
    """The number of whole days from `since` to an alert's creation, as SQL."""
    created = alerts.c.created_at
    if conn.dialect.name == "sqlite":  # integer microseconds (store.types)
        return (type_coerce(created, BigInteger()) - to_micros(since)) // MICROS_PER_DAY
    seconds = func.extract("epoch", created) - since.timestamp()
    return func.floor(type_coerce(seconds, Float()) / 86400)


def count_per_day(
    conn: Connection,
    conditions: Sequence[ColumnElement[bool]],
    since: datetime,
    days: int,
) -> list[int]:
    counts = [0] * max(days, 0)
    if days <= 0:
        return counts
    day = _day_of(conn, since).label("day")
    created = alerts.c.created_at
    stmt = (
        select(day, func.count())
        .select_from(alerts)
        .where(*conditions, created >= since)
        .group_by(day)
    )
    for bucket, count in conn.execute(stmt).all():
        index = int(bucket)
        if 0 <= index < days:
            counts[index] += int(count)
    return counts
