"""Shared by the matching tests: indicators, events and the two matchers side by side."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.types import Action, IndicatorType
from iocd.matching.batch import match_batch
from iocd.matching.columns import events_to_batch
from iocd.matching.index import CompiledIndex
from iocd.matching.single import decide_event

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def ind(
    ident: int,
    kind: IndicatorType,
    value: str,
    action: Action = Action.BLOCK,
    groups: tuple[str, ...] = (),
    authority: Authority = Authority.ORGANISATION,
) -> ListedIndicator:
    return ListedIndicator(
        id=ident,
        indicator_type=kind,
        value=value,
        action=action,
        groups=frozenset(groups),
        authority=authority,
        sequence=ident,
    )


def event(**fields: Any) -> TelemetryEvent:
    kind = (
        EventKind.FILE
        if any(fields.get(f) for f in ("sha256", "sha1", "md5", "signer_thumbprint"))
        else EventKind.NETWORK
    )
    return TelemetryEvent(time=T0, kind=kind, device_id="device", **fields)


Outcome = dict[tuple[int, str], tuple[str, int | None, frozenset[tuple[int, str, int]]]]


def summary(entity: Any) -> tuple[str, int | None, frozenset[tuple[int, str, int]]]:
    decision = entity.decision
    winner = decision.winner.indicator.id if decision.winner else None
    candidates = frozenset(
        (c.indicator.id, c.match.value, c.specificity) for c in entity.candidates
    )
    return decision.enforcement.value, winner, candidates


def single_outcomes(index: CompiledIndex, events: list[TelemetryEvent]) -> Outcome:
    found: Outcome = {}
    for row, item in enumerate(events):
        for entity in decide_event(index, item):
            found[row, entity.entity.value] = summary(entity)
    return found


def batch_outcomes(index: CompiledIndex, events: list[TelemetryEvent]) -> Outcome:
    found: Outcome = {}
    for row, entity in match_batch(index, events_to_batch(events)):
        key = (row, entity.entity.value)
        assert key not in found
        found[key] = summary(entity)
    return found


def both(index: CompiledIndex, events: list[TelemetryEvent]) -> Outcome:
    """The outcomes, after checking that the batch and the single matcher agree."""
    single = single_outcomes(index, events)
    assert batch_outcomes(index, events) == single
    return single
