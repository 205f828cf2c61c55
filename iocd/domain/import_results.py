"""What an import says about each item it read: the same record whichever door it came by.

An item is a CSV or list line, a STIX `objects` position or a MISP attribute's position; its
number is where a person finds it in the file. One item may give several results (a MISP
`domain|ip` attribute, a STIX pattern naming two values): they share the number.

- created, updated, unchanged: the item was stored; `indicator_id`, type and value say as what.
- failed: the input is wrong (a bad value, a refused write); `reason` says why.
- skipped: the input was left out on purpose (a STIX pattern naming no single value, a MISP
  attribute not meant for detection); `reason` starts with SKIPPED.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SKIPPED = "skipped: "
"""Prefix of the reason of an item left out on purpose (not an error in the input)."""


class ItemOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"


def is_skip(reason: str) -> bool:
    return reason.startswith(SKIPPED)


@dataclass(frozen=True, slots=True)
class ImportedItem:
    """One result of one item: stored as an indicator, or not, with the reason."""

    number: int
    outcome: ItemOutcome
    indicator_type: str | None = None
    value: str | None = None
    indicator_id: int | None = None
    reason: str | None = None

    @classmethod
    def not_stored(cls, number: int, reason: str) -> ImportedItem:
        outcome = ItemOutcome.SKIPPED if is_skip(reason) else ItemOutcome.FAILED
        return cls(number, outcome, reason=reason)


def item_to_wire(item: ImportedItem) -> dict[str, Any]:
    """The JSON form of one result (the API's answer, `iocd indicators import --json`)."""
    return {
        "item": item.number,
        "outcome": item.outcome.value,
        "indicatorType": item.indicator_type,
        "indicatorValue": item.value,
        "id": str(item.indicator_id) if item.indicator_id is not None else None,
        "reason": item.reason,
    }
