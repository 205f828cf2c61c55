"""Records of what happened: change-sequence entries and audit entries. Append-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Change:
    """One value of the global, gap-free change sequence; what agents and workers sync on."""

    sequence: int
    indicator_id: int
    kind: ChangeKind
    at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, when, through which door. `changes` maps a field to [before, after]."""

    at: datetime
    actor: str
    door: str
    action: str
    indicator_id: int | None
    changes: dict[str, Any]
    justification: str | None = None
    sequence: int | None = None
    id: int | None = None
