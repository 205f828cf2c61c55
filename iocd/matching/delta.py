"""Policy deltas on the wire: entries as JSON objects and the answers of
`GET /api/agents/policy` (docs/agent-protocol.md). Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType
from iocd.errors import InvalidInput
from iocd.matching.entries import AUTHORITY_OF, AUTHORITY_TEXT


def entry_to_wire(listed: ListedIndicator) -> dict[str, Any]:
    return {
        "id": str(listed.id),
        "indicatorType": listed.indicator_type.value,
        "indicatorValue": listed.value,
        "action": listed.action.value,
        "rbacGroupNames": sorted(listed.groups),
        "authority": AUTHORITY_TEXT[listed.authority],
        "overridden": listed.overridden,
        "generateAlert": listed.generate_alert,
        "sequence": listed.sequence,
    }


def entry_from_wire(data: Any) -> ListedIndicator:
    try:
        return ListedIndicator(
            int(data["id"]),
            IndicatorType(data["indicatorType"]),
            str(data["indicatorValue"]),
            Action(data["action"]),
            frozenset(str(g) for g in data["rbacGroupNames"]),
            AUTHORITY_OF[data["authority"]],
            bool(data["overridden"]),
            bool(data["generateAlert"]),
            int(data["sequence"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("upserts", f"not a policy entry ({exc!r})") from None


DELTA, UNCHANGED, SNAPSHOT_REQUIRED = "delta", "unchanged", "snapshot-required"


@dataclass(frozen=True, slots=True)
class PolicyUpdate:
    """One answer of `GET /api/agents/policy`: a delta (`upserts`, `removals`, and the digest of
    the view after it), `unchanged` (nothing since `since`), or `snapshot-required`."""

    kind: str
    sequence: int
    digest: str | None = None
    upserts: tuple[ListedIndicator, ...] = ()
    removals: tuple[int, ...] = field(default=())


def update_to_wire(update: PolicyUpdate) -> dict[str, Any]:
    if update.kind != DELTA:
        return {"kind": update.kind, "sequence": update.sequence}
    return {
        "kind": DELTA,
        "sequence": update.sequence,
        "digest": update.digest,
        "upserts": [entry_to_wire(e) for e in update.upserts],
        "removals": [str(i) for i in update.removals],
    }


def update_from_wire(data: Any) -> PolicyUpdate:
    try:
        kind, sequence = str(data["kind"]), int(data["sequence"])
        if kind not in (DELTA, UNCHANGED, SNAPSHOT_REQUIRED):
            raise ValueError(f"unknown kind {kind!r}")
        if kind != DELTA:
            return PolicyUpdate(kind, sequence)
        return PolicyUpdate(
            kind,
            sequence,
            str(data["digest"]),
            tuple(entry_from_wire(e) for e in data["upserts"]),
            tuple(int(i) for i in data["removals"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("policy", f"not a policy update ({exc!r})") from None


def apply_update(
    view: dict[int, ListedIndicator], update: PolicyUpdate
) -> dict[int, ListedIndicator]:
    """The view (id -> entry) after a delta; removals of ids the view lacks are ignored."""
    out = dict(view)
    for removed in update.removals:
        out.pop(removed, None)
    for entry in update.upserts:
        out[entry.id] = entry
    return out
