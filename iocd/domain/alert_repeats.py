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
from datetime import datetime, timedelta

from iocd.domain.alerts import Alert, DedupeKey
from iocd.domain.decision import Decision

__all__ = ["AlertRepeats", "repeats_of", "with_repeats"]


@dataclass(slots=True)
class AlertRepeats:
    """`decision` is None until a repeat brings the latest event's decision (the stored one is
    kept until then); `evidence_time`/`evidence_last_seen` are None when the alert has no
    evidence, and `evidence_moved` says whether a repeat changed them. `alert_id` is 0 for an
    alert not stored yet."""

    alert_id: int
    key: DedupeKey
    first_event_time: datetime
    last_event_time: datetime
    occurrences: int
    historical: bool
    evidence_time: datetime | None
    evidence_last_seen: datetime | None
    decision: Decision | None = None
    evidence_moved: bool = False

    @classmethod
    def first(
        cls, key: DedupeKey, time: datetime, historical: bool, decision: Decision
    ) -> AlertRepeats:
        """The tally of a new alert raised by one detection at `time`."""
        return cls(0, key, time, time, 1, historical, time, time, decision)

    def within(self, time: datetime, window: timedelta) -> bool:
        """Whether an event at `time` repeats this alert: within the window of its events."""
        return self.first_event_time - window <= time <= self.last_event_time + window

    def repeat(self, time: datetime, historical: bool, decision: Decision) -> None:
        """One more detection: times widen, the count grows, the evidence's times move, the
        alert stays historical only while every detection is, and the latest event's decision
        is kept."""
        self.fold(time, time, 1, historical, decision)

    def fold(
        self, first: datetime, last: datetime, count: int, historical: bool, decision: Decision
    ) -> None:
        """`count` more detections from `first` to `last`, as `repeat` of each in time order:
        `historical` whether all of them are, `decision` the last one's."""
        if last >= self.last_event_time:
            self.decision = decision
            self.last_event_time = last
        self.first_event_time = min(self.first_event_time, first)
        self.occurrences += count
        self.historical = self.historical and historical
        if self.evidence_time is not None and self.evidence_last_seen is not None:
            if first < self.evidence_time:
                self.evidence_time, self.evidence_moved = first, True
            if last > self.evidence_last_seen:
                self.evidence_last_seen, self.evidence_moved = last, True


def repeats_of(alert: Alert) -> AlertRepeats:
    """The repeats tally of a stored alert (its decision left as stored)."""
    first = alert.evidence[0] if alert.evidence else None
    return AlertRepeats(
        alert.id,
        alert.key,
        alert.first_event_time,
        alert.last_event_time,
        alert.occurrences,
        alert.historical,
        first.time if first else None,
        first.last_seen if first else None,
    )


def with_repeats(alert: Alert, repeats: AlertRepeats, updated_at: datetime) -> Alert:
    """The alert with what its repeats changed."""
    evidence = alert.evidence
    seen_from, seen_to = repeats.evidence_time, repeats.evidence_last_seen
    if evidence and repeats.evidence_moved and seen_from is not None and seen_to is not None:
        first = replace(evidence[0], time=seen_from, last_seen=seen_to)
        evidence = (first, *evidence[1:])
    return replace(
        alert,
        first_event_time=repeats.first_event_time,
        last_event_time=repeats.last_event_time,
        occurrences=repeats.occurrences,
        historical=repeats.historical,
        last_updated_at=updated_at,
        evidence=evidence,
        decision=repeats.decision or alert.decision,
    )
