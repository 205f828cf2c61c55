"""The alerts one raise creates, before they are stored (SPEC section 6).

A scan can create a hundred thousand alerts at once. Each is fully given by the first detection
that raised it (`AlertFacts`: the device, the event's values), its indicator (`AlertSource`:
title, severity...) and the repeats its batch folded into it (`AlertRepeats`: times, count,
historical, latest decision). `NewAlerts` keeps just those, so a store can write its rows straight
from them; `alerts()` makes the `Alert` values (the memory store, and a raise that answers what
it raised). `new_alert` is the one rule for what a new alert holds. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from iocd.domain.accounts import UNGROUPED
from iocd.domain.alert_repeats import AlertRepeats
from iocd.domain.alert_sources import AlertSource
from iocd.domain.alerts import Alert, AlertStatus, Evidence
from iocd.domain.detection_columns import AlertFacts
from iocd.domain.instants import from_micros

__all__ = ["NewAlerts", "evidence_span", "new_alert", "new_evidence"]


@dataclass(frozen=True, slots=True, eq=False)
class NewAlerts:
    """New alert i: id `ids[i]`, raised with `facts[i]` for `sources[i]`, its batch's repeats
    folded into `repeats[i]`; all created at `created_at`."""

    ids: list[int]
    facts: list[AlertFacts]
    sources: list[AlertSource]
    repeats: list[AlertRepeats]
    created_at: datetime

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[tuple[int, AlertFacts, AlertSource, AlertRepeats]]:
        return zip(self.ids, self.facts, self.sources, self.repeats, strict=True)

    def alerts(self) -> list[Alert]:
        return [new_alert(*item, self.created_at) for item in self]


def evidence_span(repeats: AlertRepeats) -> tuple[int, int]:
    """When a new alert's evidence was first and last seen (microseconds): its repeats' span."""
    first, last = repeats.evidence_micros, repeats.evidence_seen_micros
    return (
        repeats.first_micros if first is None else first,
        repeats.last_micros if last is None else last,
    )


def new_evidence(
    facts: AlertFacts, repeats: AlertRepeats, seen: tuple[datetime, datetime]
) -> Evidence:
    """The evidence of a new alert, seen over `seen` (its `evidence_span` as datetimes)."""
    return Evidence.of_values(facts.entity_type, repeats.key[2], *seen, facts.values)


def new_alert(
    alert_id: int, facts: AlertFacts, f: AlertSource, repeats: AlertRepeats, now: datetime
) -> Alert:
    """The alert a detection raises, with the repeats the same batch folded into it (its
    evidence seen over their span)."""
    _, device_id, entity = repeats.key
    assert repeats.decision is not None  # a new alert's tally holds its latest decision
    seen_from, seen_to = evidence_span(repeats)
    evidence = new_evidence(facts, repeats, (from_micros(seen_from), from_micros(seen_to)))
    return Alert(
        id=alert_id,
        indicator_id=f.indicator_id,
        title=f.title,
        description=f.description,
        severity=f.severity,
        status=AlertStatus.NEW,
        machine_id=device_id,
        computer_dns_name=facts.device_name or device_id,
        rbac_group_name=facts.device_group or UNGROUPED,
        entity_type=facts.entity_type,
        entity=entity,
        created_at=now,
        last_updated_at=now,
        first_event_time=from_micros(repeats.first_micros),
        last_event_time=from_micros(repeats.last_micros),
        evidence=(evidence,),
        decision=repeats.decision,
        indicator_created_by=f.created_by,
        category=f.category,
        mitre_techniques=f.mitre_techniques,
        recommended_actions=f.recommended_actions,
        historical=repeats.historical,
        occurrences=repeats.occurrences,
        detection_source=facts.detection_source,
    )
