"""Many alerting matches at once, as columns: what the alert service deduplicates.

A scanned batch can hold tens of thousands of alerting matches, and most of them only repeat an
alert that exists already: deduplicating them needs their keys, times and decisions, not whole
`Detection` objects. `DetectionColumns` holds just that, one entry per detection, and makes the
full `Detection`s (with their events) only for the entries that are asked for: the first
detection of each new alert, whose event becomes the alert's evidence. Pure values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from iocd.domain.alerts import DedupeKey, Detection, EventValues
from iocd.domain.decision import Decision
from iocd.domain.instants import micros

__all__ = ["AlertFacts", "DetectionColumns"]


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What a new alert takes from the first detection it stands for: the matched entity's
    evidence type, the device's name and group, who detected it and the event's values."""

    entity_type: str
    device_name: str
    device_group: str | None
    detection_source: str
    values: EventValues

    @classmethod
    def of(cls, detection: Detection) -> AlertFacts:
        e = detection.event
        return cls(
            detection.entity_type,
            e.device_name,
            e.device_group,
            detection.detection_source,
            EventValues.of(e),
        )


@dataclass(frozen=True, slots=True, eq=False)
class DetectionColumns:
    """Entry i: indicator `indicator_ids[i]` matched `entities[i]` on device `device_ids[i]`
    at `times[i]` (microseconds since the epoch), decided `decisions[i]`; `historical[i]` marks
    a retro-hunt find. `key_codes[i] == key_codes[j]` exactly when entries i and j have the
    same dedupe key. `facts(positions)` answers what new alerts take from those entries, and
    `detections(positions)` makes their full detections (events included)."""

    indicator_ids: list[int]
    device_ids: list[str]
    entities: list[str]
    times: npt.NDArray[np.int64]
    historical: npt.NDArray[np.bool_]
    decisions: list[Decision]
    key_codes: npt.NDArray[np.int64]
    facts: Callable[[Sequence[int]], list[AlertFacts]]
    detections: Callable[[Sequence[int]], list[Detection]]

    def __len__(self) -> int:
        return len(self.indicator_ids)

    def key(self, position: int) -> DedupeKey:
        return (
            self.indicator_ids[position],
            self.device_ids[position],
            self.entities[position],
        )

    @classmethod
    def of(cls, detections: Sequence[Detection]) -> DetectionColumns:
        """The columns of detections made one by one (an agent's report, a verdict)."""
        chosen = list(detections)
        codes: dict[DedupeKey, int] = {}
        return cls(
            [d.indicator_id for d in chosen],
            [d.event.device_id for d in chosen],
            [d.entity for d in chosen],
            np.array([micros(d.event.time) for d in chosen], dtype=np.int64),
            np.array([d.historical for d in chosen], dtype=np.bool_),
            [d.decision for d in chosen],
            np.array([codes.setdefault(d.key, len(codes)) for d in chosen], dtype=np.int64),
            lambda positions: [AlertFacts.of(chosen[i]) for i in positions],
            lambda positions: [chosen[i] for i in positions],
        )
