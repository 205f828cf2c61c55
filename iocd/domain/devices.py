"""Devices seen in telemetry, and sightings: how often, where and when each indicator matched.

Sightings answer "which indicators are doing work and which never fire" (issue 4, point 6). The
detection engine reports every match of every indicator (alerting or not) as sightings, one per
(indicator, device) of a scanned batch (`SightingColumns`, or `Sighting` one by one); the store
folds them into one `Sightings` summary per indicator. Pure values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from iocd.domain.decision import Decision
from iocd.domain.instants import from_micros, micros
from iocd.domain.telemetry import TelemetryEvent


@dataclass(frozen=True, slots=True)
class Device:
    """A device as telemetry shows it. `group` is its device group; None fields are unknown and
    never overwrite what is known."""

    device_id: str
    first_seen: datetime
    last_seen: datetime
    name: str | None = None
    group: str | None = None
    os: str | None = None

    @classmethod
    def of(cls, event: TelemetryEvent) -> Device:
        return cls(
            event.device_id, event.time, event.time, event.device_name or None, event.device_group
        )


def devices_of(events: Iterable[TelemetryEvent]) -> list[Device]:
    """One Device per device id of the events, spanning their times (later events' names win)."""
    out: dict[str, Device] = {}
    for event in events:
        seen = Device.of(event)
        known = out.get(event.device_id)
        out[event.device_id] = seen if known is None else widen_device(known, seen)
    return list(out.values())


def widen_device(known: Device, seen: Device) -> Device:
    """What is known after `seen`: its given fields replace, its None fields keep the known
    ones, and the times widen (what every store's upsert does)."""
    return Device(
        known.device_id,
        min(known.first_seen, seen.first_seen),
        max(known.last_seen, seen.last_seen),
        seen.name if seen.name is not None else known.name,
        seen.group if seen.group is not None else known.group,
        seen.os if seen.os is not None else known.os,
    )


@dataclass(frozen=True, slots=True)
class Sighting:
    """`count` matches of one indicator on one device between `first_seen` and `last_seen`."""

    indicator_id: int
    device_id: str
    first_seen: datetime
    last_seen: datetime
    count: int = 1


@dataclass(frozen=True, slots=True, eq=False)
class SightingColumns:
    """Sightings as columns, one entry per (indicator, device) pair (what a scanned batch
    records): entry i is `counts[i]` matches of `indicator_ids[i]` on `device_ids[i]` between
    `first[i]` and `last[i]` (microseconds since the epoch)."""

    indicator_ids: npt.NDArray[np.int64]
    device_ids: list[str]
    first: npt.NDArray[np.int64]
    last: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.device_ids)

    @classmethod
    def of(cls, sightings: Iterable[Sighting]) -> SightingColumns:
        """The columns of sightings made one by one, merged per pair (aggregate_sightings)."""
        pairs = aggregate_sightings(sightings)
        return cls(
            np.array([s.indicator_id for s in pairs], dtype=np.int64),
            [s.device_id for s in pairs],
            np.array([micros(s.first_seen) for s in pairs], dtype=np.int64),
            np.array([micros(s.last_seen) for s in pairs], dtype=np.int64),
            np.array([s.count for s in pairs], dtype=np.int64),
        )

    def rows(self) -> list[Sighting]:
        return [
            Sighting(i, d, from_micros(f), from_micros(t), c)
            for i, d, f, t, c in zip(
                self.indicator_ids.tolist(),
                self.device_ids,
                self.first.tolist(),
                self.last.tolist(),
                self.counts.tolist(),
                strict=True,
            )
        ]

    def totals(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """Per indicator (in id order): its id, count, and first and last times."""
        if not len(self):
            return [], [], [], []
        order = np.argsort(self.indicator_ids, kind="stable")
        ids = self.indicator_ids[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        return (
            ids[starts].tolist(),
            np.add.reduceat(self.counts[order], starts).tolist(),
            np.minimum.reduceat(self.first[order], starts).tolist(),
            np.maximum.reduceat(self.last[order], starts).tolist(),
        )


@dataclass(frozen=True, slots=True)
class Sightings:
    """Everything known of one indicator's matches: how many, on how many devices, when."""

    indicator_id: int
    count: int
    device_count: int
    first_seen: datetime
    last_seen: datetime


def aggregate_sightings(sightings: Iterable[Sighting]) -> list[Sighting]:
    """One row per (indicator, device), counts added and times spanned; ordered by key."""
    out: dict[tuple[int, str], Sighting] = {}
    for s in sightings:
        key = (s.indicator_id, s.device_id)
        known = out.get(key)
        if known is None:
            out[key] = s
        else:
            out[key] = Sighting(
                s.indicator_id,
                s.device_id,
                min(known.first_seen, s.first_seen),
                max(known.last_seen, s.last_seen),
                known.count + s.count,
            )
    return [out[key] for key in sorted(out)]


def matched_indicator_ids(decision: Decision) -> list[int]:
    """Every indicator that matched in a decision: the winner, the losers and the alerting
    candidates (each counts as a sighting, whatever it decided)."""
    ids: dict[int, None] = {}
    if decision.winner is not None:
        ids[decision.winner.indicator.id] = None
    for candidate, _reason in decision.losers:
        ids[candidate.indicator.id] = None
    for candidate in decision.alerts:
        ids[candidate.indicator.id] = None
    return list(ids)
