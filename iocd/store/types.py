"""Column types shared by the tables and the migrations.

`UtcDateTime` stores timezone-aware datetimes so that they round-trip identically, to the
microsecond, on both backends, and so that SQL comparisons and ordering are chronological:

- PostgreSQL: `TIMESTAMP WITH TIME ZONE` (microsecond precision); read back as UTC.
- SQLite: a 64-bit integer of microseconds since the Unix epoch (UTC). Integers compare and sort
  chronologically, cost less to write than text, and carry no format ambiguity.

Naive datetimes are refused on the way in: every datetime in iocd is aware UTC.

`Key` is the integer type of primary keys: BIGINT on PostgreSQL, and INTEGER on SQLite so that
the column aliases the rowid (a clustered key; BIGINT PRIMARY KEY would add a second B-tree).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from iocd.domain.instants import from_micros as instant
from iocd.domain.instants import micros

Key = BigInteger().with_variant(Integer(), "sqlite")
"""Primary-key integers: a rowid alias on SQLite, BIGINT elsewhere."""


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (the SQLite storage form)."""
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: iocd stores aware UTC datetimes only")
    return micros(value)


@lru_cache(maxsize=4096)
def from_micros(value: int) -> datetime:
    """The aware UTC datetime of a stored value (memoised: rows share a few instants)."""
    return instant(value)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime: timestamptz on PostgreSQL, integer microseconds on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return to_micros(value)
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: iocd stores aware UTC datetimes only")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return from_micros(value)
        result: datetime = value.astimezone(UTC)
        return result
