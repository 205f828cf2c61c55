"""Deduplication (SPEC section 6): what repeats change on an open alert.

An `AlertRepeats` is the part of one alert that repeats of its dedupe key move: the first and
last event times, the occurrence count, whether it is still only historical (a retro-hunt
find), the first evidence's creation and last-seen times, and the decision of the latest event.
The alert service reads it for the open alerts of a batch's keys, folds the batch's detections
into it (`repeat`) and the store writes back only these columns, so folding a repeat never
decodes or rewrites a whole alert. A new alert starts as `AlertRepeats.first` of its detection.

It is a mutable tally, owned by one raise at a time; nothing else holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from iocd.domain.alerts import Alert, DedupeKey
from iocd.domain.decision import Decision
from iocd.domain.instants import from_micros, micros

__all__ = ["AlertRepeats", "repeats_of", "with_repeats"]


@dataclass(slots=True)
class AlertRepeats:
    """Times are integers, microseconds since the epoch (domain.instants), as columns and the
    SQLite store hold them: a scan folds tens of thousands of repeats a batch, and converting
    each to datetimes and back cost more than the folding. `decision` is None until a repeat
    brings the latest event's decision (the stored one is kept until then);
    `evidence_micros`/`evidence_seen_micros` (the first evidence's creation and last-seen times)
    are None when the alert has no evidence, and `evidence_moved` says whether a repeat changed
    them. `alert_id` is 0 for an alert not stored yet."""

    alert_id: int
    key: DedupeKey
    first_micros: int
    last_micros: int
    occurrences: int
    historical: bool
    evidence_micros: int | None
    evidence_seen_micros: int | None
    decision: Decision | None = None
    evidence_moved: bool = False

    @classmethod
    def first(cls, key: DedupeKey, time: int, historical: bool, decision: Decision) -> AlertRepeats:
        """The tally of a new alert raised by one detection at `time`."""
        return cls(0, key, time, time, 1, historical, time, time, decision)

    def within(self, time: int, window: int) -> bool:
        """Whether an event at `time` repeats this alert: within the window of its events
        (`window` in microseconds too)."""
        return self.first_micros - window <= time <= self.last_micros + window

    def repeat(self, time: int, historical: bool, decision: Decision) -> None:
        """One more detection: times widen, the count grows, the evidence's times move, the
        alert stays historical only while every detection is, and the latest event's decision
        is kept."""
        self.fold(time, time, 1, historical, decision)

    def fold(self, first: int, last: int, count: int, historical: bool, decision: Decision) -> None:
        """`count` more detections from `first` to `last`, as `repeat` of each in time order:
        `historical` whether all of them are, `decision` the last one's."""
        if last >= self.last_micros:
            self.decision = decision
            self.last_micros = last
        if first < self.first_micros:
            self.first_micros = first
        self.occurrences += count
        self.historical = self.historical and historical
        if self.evidence_micros is not None and self.evidence_seen_micros is not None:
            if first < self.evidence_micros:
                self.evidence_micros, self.evidence_moved = first, True
            if last > self.evidence_seen_micros:
                self.evidence_seen_micros, self.evidence_moved = last, True


def repeats_of(alert: Alert) -> AlertRepeats:
    """The repeats tally of a stored alert (its decision left as stored)."""
    first = alert.evidence[0] if alert.evidence else None
    return AlertRepeats(
        alert.id,
        alert.key,
        micros(alert.first_event_time),
        micros(alert.last_event_time),
        alert.occurrences,
        alert.historical,
        micros(first.time) if first else None,
        micros(first.last_seen) if first else None,
    )


def with_repeats(alert: Alert, repeats: AlertRepeats, updated_at: datetime) -> Alert:
    """The alert with what its repeats changed."""
    evidence = alert.evidence
    seen_from, seen_to = repeats.evidence_micros, repeats.evidence_seen_micros
    if evidence and repeats.evidence_moved and seen_from is not None and seen_to is not None:
        first = replace(evidence[0], time=from_micros(seen_from), last_seen=from_micros(seen_to))
        evidence = (first, *evidence[1:])
    return replace(
        alert,
        first_event_time=from_micros(repeats.first_micros),
        last_event_time=from_micros(repeats.last_micros),
        occurrences=repeats.occurrences,
        historical=repeats.historical,
        last_updated_at=updated_at,
        evidence=evidence,
        decision=repeats.decision or alert.decision,
    )
