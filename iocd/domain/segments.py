"""What the telemetry store reports about what it holds (values of `services.telemetry_port`).

A *segment* is one append to the store, numbered in append order; its id is also the cursor the
background scanner persists. Pure values: the store adapters and the services both use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One append, as stored."""

    segment_id: str
    """Opaque, ordered by append. Also the cursor that resumes after this segment."""
    rows: int
    """Rows still stored for this segment (fewer than appended once retention purged a day)."""
    days: tuple[date, ...]
    """The UTC days the segment's rows fall on, ascending (empty for an empty append)."""

    @property
    def cursor(self) -> str:
        """Pass to `segments_after` to continue after this segment; safe to persist."""
        return self.segment_id


@dataclass(frozen=True, slots=True)
class TelemetryStats:
    days: int
    files: int
    rows: int
    bytes: int
    segments: int
    oldest_day: date | None = None
    newest_day: date | None = None
