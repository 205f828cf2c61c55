"""Sightings over SQL: a scanned batch's (indicator, device) pairs and per-indicator totals
written from its columns (`SightingColumns`) with two driver-level statements, every value a
bound parameter. The pairs go in with one statement that answers which pairs were new, so each
indicator's device count grows by those and never needs a recount.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from iocd.domain.devices import SightingColumns
from iocd.domain.instants import from_micros
from iocd.store.alert_rows import json_text
from iocd.store.tables import indicator_sightings, sighting_devices

__all__ = ["record_sightings", "sighting_statements"]


def record_sightings(conn: Connection, sightings: SightingColumns) -> None:
    """Fold one batch's sightings (one entry per pair) into the stored ones."""
    if not len(sightings):
        return
    postgresql = conn.dialect.name == "postgresql"
    pair_insert, total_upsert = sighting_statements(conn.dialect)
    ids = sightings.indicator_ids.tolist()
    listed: tuple[Any, ...]
    if postgresql:
        listed = (ids, sightings.device_ids)
    else:
        listed = (json_text(list(zip(ids, sightings.device_ids, strict=True))),)
    new_devices: dict[int, int] = {}
    for indicator in conn.exec_driver_sql(pair_insert, listed).scalars():
        new_devices[indicator] = new_devices.get(indicator, 0) + 1
    totals = zip(*sightings.totals(), strict=True)
    rows: list[tuple[int, int, Any, Any, int]]
    if postgresql:  # aware datetimes; SQLite stores the microseconds
        rows = [
            (i, count, from_micros(first), from_micros(last), new_devices.get(i, 0))
            for i, count, first, last in totals
        ]
    else:
        rows = [(i, count, first, last, new_devices.get(i, 0)) for i, count, first, last in totals]
    conn.exec_driver_sql(total_upsert, rows)


@lru_cache(maxsize=8)
def sighting_statements(dialect: Dialect) -> tuple[str, str]:
    """(INSERT of (indicator, device) pairs unless known, answering the indicator of each pair
    it inserted: one statement over the pairs as a table-valued parameter, a JSON array of pairs on
    SQLite or two arrays on PostgreSQL; upsert of an indicator's totals, executemany, its
    device count raised by the pairs that were new), driver-level like `statements`.
    (`WHERE true` keeps SQLite from reading ON CONFLICT as a join constraint.)"""
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    q = dialect.identifier_preparer.quote
    pairs, totals = q(sighting_devices.name), q(indicator_sightings.name)
    first, last, count = q("first_seen"), q("last_seen"), q("count")
    if dialect.name == "postgresql":
        least, greatest = "LEAST", "GREATEST"
        listed = f"SELECT * FROM unnest({mark}::bigint[], {mark}::text[])"
    else:
        least, greatest = "MIN", "MAX"
        listed = (
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') "
            f"FROM json_each({mark}) WHERE true"
        )
    return (
        f"INSERT INTO {pairs} (indicator_id, device_id) {listed} "
        "ON CONFLICT (indicator_id, device_id) DO NOTHING RETURNING indicator_id",
        f"INSERT INTO {totals} (indicator_id, {count}, {first}, {last}, device_count) "
        f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) ON CONFLICT (indicator_id) DO UPDATE "
        f"SET {count} = {totals}.{count} + excluded.{count}, "
        f"{first} = {least}({totals}.{first}, excluded.{first}), "
        f"{last} = {greatest}({totals}.{last}, excluded.{last}), "
        f"device_count = {totals}.device_count + excluded.device_count",
    )
