"""The decision for one entity in every device group (matching + precedence), for entity pages.

The entity stands as one event (services.entities builds it from telemetry); the current
compiled index decides it for a device in each device group the caller may see. The first
decision is the organisation-wide view: a device in "Ungrouped devices" (for an analyst, who
sees only their groups, their first group); the others are kept only where they differ.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from iocd.domain.accounts import UNGROUPED
from iocd.domain.decision import NO_MATCH, Decision, EntityKind, ListedIndicator
from iocd.domain.principal import Principal, Role
from iocd.domain.telemetry import TelemetryEvent
from iocd.domain.types import IndicatorType
from iocd.matching import single
from iocd.policy.explain import explain_lines
from iocd.services.detection import DetectionService

__all__ = ["GroupDecision", "Verdict", "decide_everywhere", "may_read"]


@dataclass(frozen=True, slots=True)
class GroupDecision:
    group: str
    decision: Decision

    @property
    def lines(self) -> list[str]:
        return explain_lines(self.decision)


@dataclass(frozen=True, slots=True)
class Verdict:
    """`main` is the decision shown first; `differing` the groups deciding otherwise;
    `related` every indicator that matched in any group considered (by id); `existing` those of
    exactly the entity's type and value."""

    main: GroupDecision
    differing: list[GroupDecision]
    related: list[ListedIndicator]
    existing: list[ListedIndicator]


def _signature(decision: Decision) -> tuple[object, ...]:
    winner = decision.winner.indicator.id if decision.winner else None
    return (decision.enforcement, decision.alert, winner)


def groups_for(detection: DetectionService, principal: Principal) -> list[str]:
    """The device groups whose decisions the principal may see, the organisation-wide first."""
    if principal.role is Role.ANALYST:
        return sorted(principal.device_groups)
    return [UNGROUPED, *(g.name for g in detection.devices.groups() if g.name != UNGROUPED)]


def decide_everywhere(
    detection: DetectionService,
    event: TelemetryEvent,
    principal: Principal,
    indicator_type: IndicatorType,
    value: str,
) -> Verdict:
    """The decisions for the entity (`event`); `existing` holds the indicators on exactly
    (`indicator_type`, `value`)."""
    detection.keeper.refresh()
    index = detection.keeper.current
    kind = EntityKind.FILE if event.is_file else EntityKind.NETWORK
    decided: list[GroupDecision] = []
    related: dict[int, ListedIndicator] = {}
    for group in groups_for(detection, principal) or [UNGROUPED]:
        found = next(
            (
                d
                for d in single.decide_event(index, replace(event, device_group=group))
                if d.entity is kind
            ),
            None,
        )
        decided.append(GroupDecision(group, found.decision if found else NO_MATCH))
        for candidate in found.candidates if found else ():
            related[candidate.indicator.id] = candidate.indicator
    main = decided[0]
    differing = [d for d in decided[1:] if _signature(d.decision) != _signature(main.decision)]
    listed = sorted(related.values(), key=lambda i: i.id)
    existing = [i for i in listed if i.indicator_type is indicator_type and i.value == value]
    return Verdict(main, differing, listed, existing)


def may_read(principal: Principal, indicator: ListedIndicator) -> bool:
    """Whether the principal may open the indicator's page (policy.access's rule, on a listed
    indicator): analysts only indicators scoped within their groups."""
    if principal.role is Role.ANALYST:
        return bool(indicator.groups) and indicator.groups <= principal.device_groups
    return True
