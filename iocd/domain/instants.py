"""Instants as integers: microseconds since the Unix epoch, the form columns (Arrow timestamps,
the SQLite store) hold them in. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

__all__ = ["EPOCH", "MICROSECOND", "from_micros", "micros", "wire_times"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (value - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def wire_times(values: Sequence[int]) -> list[str]:
    """`indicator.format_datetime(from_micros(v))` of each value (UTC, seven fractional digits
    and Z, as MDE writes times), formatted all at once."""
    texts = np.datetime_as_string(np.array(values, dtype="datetime64[us]"), unit="us")
    return [text + "0Z" for text in texts.tolist()]
