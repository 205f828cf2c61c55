"""The narrow read behind the outputs for enforcement points (`Store.output_rows`).

An output needs a few fields of the active indicators of some types and actions. The read
selects only those, with the type, action, state and expiry filters in the SQL, keyset-paged by
id (on the primary key, so SQLite walks the table in order instead of an index) inside one
read-only snapshot (SQLite: one deferred read transaction in WAL mode; PostgreSQL: REPEATABLE
READ), and hands back the driver's plain tuples, a page at a time: no SQLAlchemy Row and no
Indicator per row. Low-cardinality text (type, action, severity, authority) comes back as small
integer codes computed by the database (the positions in domain.outputs' code tables, and the
Authority value), which cost the driver no string per row; the title, the last update and
the sequence value are read only when asked for (placeholders otherwise). Row layout:

    (id, type code, value, action code, severity code, title, last update in microseconds
     since the Unix epoch, sequence, device groups '|'-joined ('' = all devices), authority)

`output_batches` gives the same rows from Indicators (the in-memory store).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from iocd.domain.decision import Authority
from iocd.domain.indicator import AUTHORITY_NAMES, Indicator
from iocd.domain.outputs import ACTION_TEXT, SEVERITY_TEXT, TYPE_TEXT
from iocd.domain.scope import SEPARATOR
from iocd.store.engine import BEGIN_OPTION
from iocd.store.types import to_micros

__all__ = ["GROUPS", "OutputRow", "output_batches", "output_row", "read_output_rows"]

OutputRow = tuple[Any, ...]
GROUPS, AUTHORITY = 8, 9
"""Positions of the device groups and the authority code, after the entry fields."""


def _codes(column: str, texts: Iterable[str], default: int) -> str:
    cases = " ".join(f"WHEN '{text}' THEN {code}" for code, text in enumerate(texts))
    return f"CASE {column} {cases} ELSE {default} END"


def _select(dialect: str, titles: bool, details: bool) -> str:
    updated = (
        "last_updated_at"
        if dialect == "sqlite"
        else "CAST(EXTRACT(EPOCH FROM last_updated_at) * 1000000 AS BIGINT)"
    )
    authority = " ".join(f"WHEN '{name}' THEN {int(a)}" for a, name in AUTHORITY_NAMES.items())
    return ", ".join(
        [
            "id",
            _codes("indicator_type", TYPE_TEXT, -1),
            "value",
            _codes("action", ACTION_TEXT, -1),
            _codes("severity", SEVERITY_TEXT, 0),
            "title" if titles else "''",
            updated if details else "0",
            "sequence" if details else "0",
            "rbac_group_names",
            f"CASE authority {authority} ELSE {int(Authority.ORGANISATION)} END",
        ]
    )


def read_output_rows(
    engine: Engine,
    types: Sequence[str],
    actions: Sequence[str],
    now: datetime,
    *,
    titles: bool = False,
    details: bool = False,
    batch: int = 50_000,
) -> Iterator[list[OutputRow]]:
    """Stored-active indicators not expired at `now`, of these types and actions (wire
    values), in id order, as lists of at most `batch` rows (none when nothing matches)."""
    if not types or not actions:
        return
    dialect = engine.dialect.name
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"SELECT {_select(dialect, titles, details)} FROM indicators "
        "WHERE state = 'active' "
        f"AND indicator_type IN ({', '.join([mark] * len(types))}) "
        f"AND action IN ({', '.join([mark] * len(actions))}) "
        f"AND (expiration_time IS NULL OR expiration_time > {mark}) "
        f"AND id > {mark} ORDER BY id LIMIT {int(batch)}"
    )
    moment: Any = to_micros(now) if dialect == "sqlite" else now
    fixed = (*types, *actions, moment)
    with engine.connect() as conn:
        if dialect == "sqlite":
            conn = conn.execution_options(**{BEGIN_OPTION: "BEGIN"})
        elif dialect == "postgresql":
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with conn.begin():
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            last = 0
            while True:  # plain DB-API tuples: no per-row SQLAlchemy Row objects
                cursor.execute(sql, (*fixed, last))
                rows: list[OutputRow] = list(cursor.fetchall())
                if rows:
                    yield rows
                if len(rows) < batch:
                    return
                last = rows[-1][0]


def output_row(indicator: Indicator, titles: bool, details: bool) -> OutputRow:
    """The row of one indicator, as `read_output_rows` reads it."""
    fields = indicator.fields
    return (
        indicator.id,
        TYPE_TEXT.index(fields.indicator_type.value),
        fields.value,
        ACTION_TEXT.index(fields.action.value),
        SEVERITY_TEXT.index(fields.severity.value),
        fields.title if titles else "",
        to_micros(indicator.last_updated_at) if details else 0,
        indicator.sequence if details else 0,
        SEPARATOR.join(fields.rbac_group_names),
        int(indicator.authority),
    )


def output_batches(
    indicators: Iterable[Indicator],
    types: Sequence[str],
    actions: Sequence[str],
    now: datetime,
    *,
    titles: bool = False,
    details: bool = False,
    batch: int = 50_000,
) -> Iterator[list[OutputRow]]:
    """`read_output_rows` over Indicators (the in-memory store)."""
    wanted_types, wanted_actions = set(types), set(actions)
    chosen = sorted(
        (
            i
            for i in indicators
            if i.is_active(now)
            and i.fields.indicator_type.value in wanted_types
            and i.fields.action.value in wanted_actions
        ),
        key=lambda i: i.id,
    )
    for start in range(0, len(chosen), batch):
        yield [output_row(i, titles, details) for i in chosen[start : start + batch]]
