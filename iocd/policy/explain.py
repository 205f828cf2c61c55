"""A decision for people and for storage: the trace `iocd explain` and the API show, and its JSON.

`explain_lines(decision)` gives one line per fact: enforcement, winner, the deciding rule, each
loser with its reason, the alerts raised, the notes. `decision_to_wire` / `decision_from_wire` turn
a decision into JSON-friendly values and back (alerts store the decision this way);
`decision_from_wire(decision_to_wire(d)) == d` for every decision `decide` makes.

Wire shape (indicator ids are strings of digits, as everywhere on the wire)::

    {"enforcement": "block", "alert": true, "rule": "specificity",
     "winner": {"indicator": {...}, "match": "sha256", "specificity": 0} | null,
     "losers": [{"indicator": {...}, "match": "md5", "specificity": 0, "reason": "..."}],
     "alerts": ["12", "40"],
     "audit": [{"indicator": {...}, "match": ..., "specificity": ...}],
     "notes": ["..."]}

`alerts` names the alerting candidates by indicator id, in order; every one that is not the winner
(the Audit candidates, which appear in no other field) is carried in full under `audit`, in the
same order. Pure; malformed input raises `InvalidInput`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iocd.domain.decision import (
    Authority,
    Candidate,
    Decision,
    Enforcement,
    ListedIndicator,
    MatchKind,
)
from iocd.domain.types import Action, IndicatorType
from iocd.errors import InvalidInput
from iocd.policy.precedence import match_label

__all__ = ["candidate_line", "decision_from_wire", "decision_to_wire", "explain_lines"]

_AUTHORITY_WORDS = {Authority.ORGANISATION: "organisation-wide", Authority.GROUP: "group"}


def candidate_line(candidate: Candidate) -> str:
    """One candidate in words: id, type, value, action, scope, authority and how it matched."""
    indicator = candidate.indicator
    scope = (
        "device groups " + ", ".join(sorted(indicator.groups))
        if indicator.groups
        else "all devices"
    )
    return (
        f"indicator {indicator.id} {indicator.indicator_type.value} {indicator.value} "
        f"{indicator.action.value}, {scope}, {_AUTHORITY_WORDS[indicator.authority]}, "
        f"matched as {match_label(candidate)}"
    )


def explain_lines(decision: Decision) -> list[str]:
    """The human trace of a decision, one fact per line."""
    lines = [f"enforcement: {decision.enforcement.value}" + (" (alert)" if decision.alert else "")]
    if decision.winner is None:
        lines.append("winner: none")
    else:
        lines.append(f"winner: {candidate_line(decision.winner)}")
    lines.append(f"rule: {decision.rule}")
    lines.extend(f"lost: {candidate_line(loser)}: {reason}" for loser, reason in decision.losers)
    lines.extend(f"alert: {candidate_line(alerting)}" for alerting in decision.alerts)
    lines.extend(f"note: {note}" for note in decision.notes)
    return lines


def decision_to_wire(decision: Decision) -> dict[str, Any]:
    """JSON-friendly values of a decision (see the module docstring for the shape)."""
    return {
        "enforcement": decision.enforcement.value,
        "alert": decision.alert,
        "rule": decision.rule,
        "winner": None if decision.winner is None else _candidate_to_wire(decision.winner),
        "losers": [
            {**_candidate_to_wire(loser), "reason": reason} for loser, reason in decision.losers
        ],
        "alerts": [str(alerting.indicator.id) for alerting in decision.alerts],
        "audit": [
            _candidate_to_wire(alerting)
            for alerting in decision.alerts
            if alerting is not decision.winner
        ],
        "notes": list(decision.notes),
    }


def decision_from_wire(data: Mapping[str, Any]) -> Decision:
    """The decision `decision_to_wire` gave; raises `InvalidInput` on anything else."""
    try:
        winner = None if data["winner"] is None else _candidate_from_wire(data["winner"])
        losers = tuple(
            (_candidate_from_wire(loser), str(loser["reason"])) for loser in data["losers"]
        )
        others = iter([_candidate_from_wire(item) for item in data["audit"]])
        alerts: list[Candidate] = []
        for ref in data["alerts"]:
            if winner is not None and winner not in alerts and str(winner.indicator.id) == ref:
                alerts.append(winner)
                continue
            alerting = next(others)
            if str(alerting.indicator.id) != ref:
                raise ValueError(f"alert {ref} is neither the winner nor an audit candidate")
            alerts.append(alerting)
        if next(others, None) is not None:
            raise ValueError("more audit candidates than alerts")
        return Decision(
            enforcement=Enforcement(data["enforcement"]),
            alert=bool(data["alert"]),
            winner=winner,
            rule=str(data["rule"]),
            losers=losers,
            alerts=tuple(alerts),
            notes=tuple(str(note) for note in data["notes"]),
        )
    except (KeyError, TypeError, ValueError, StopIteration) as error:
        raise InvalidInput("decision", f"not a stored decision: {error}") from error


def _candidate_to_wire(candidate: Candidate) -> dict[str, Any]:
    indicator = candidate.indicator
    return {
        "indicator": {
            "id": str(indicator.id),
            "indicatorType": indicator.indicator_type.value,
            "indicatorValue": indicator.value,
            "action": indicator.action.value,
            "rbacGroupNames": sorted(indicator.groups),
            "authority": indicator.authority.name.lower(),
            "overridden": indicator.overridden,
            "generateAlert": indicator.generate_alert,
            "sequence": indicator.sequence,
        },
        "match": candidate.match.value,
        "specificity": candidate.specificity,
    }


def _candidate_from_wire(data: Mapping[str, Any]) -> Candidate:
    indicator = data["indicator"]
    return Candidate(
        ListedIndicator(
            id=int(indicator["id"]),
            indicator_type=IndicatorType(indicator["indicatorType"]),
            value=str(indicator["indicatorValue"]),
            action=Action(indicator["action"]),
            groups=frozenset(str(group) for group in indicator["rbacGroupNames"]),
            authority=Authority[str(indicator["authority"]).upper()],
            overridden=bool(indicator["overridden"]),
            generate_alert=bool(indicator["generateAlert"]),
            sequence=int(indicator["sequence"]),
        ),
        MatchKind(data["match"]),
        int(data["specificity"]),
    )
