"""Changes a person makes to an alert (status, classification, determination, assignment, a
comment): the PATCH body parsed, applied to an alert, and recorded for the audit log. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from iocd.domain.alerts import (
    Alert,
    AlertClassification,
    AlertComment,
    AlertDetermination,
    AlertStatus,
)
from iocd.domain.indicator import check_text
from iocd.domain.types import parse_member
from iocd.errors import InvalidInput

PATCH_FIELDS = ("status", "classification", "determination", "assignedTo", "comment")
MAX_COMMENT = 8192


@dataclass(frozen=True, slots=True)
class AlertPatch:
    """What a PATCH asks to change. None means "not given"; `cleared` names the fields given as
    null (classification, determination, assignedTo), which are emptied."""

    status: AlertStatus | None = None
    classification: AlertClassification | None = None
    determination: AlertDetermination | None = None
    assigned_to: str | None = None
    comment: str | None = None
    cleared: frozenset[str] = frozenset()


def parse_alert_patch(data: object) -> AlertPatch:
    """A PATCH body (a JSON object) -> AlertPatch; InvalidInput naming the first bad field.
    Unknown fields are ignored, as everywhere in the API; a body changing nothing is refused."""
    if not isinstance(data, Mapping):
        raise InvalidInput("body", "must be a JSON object", "InvalidRequestBody")
    given = [name for name in PATCH_FIELDS if name in data]
    if not given:
        raise InvalidInput(
            "body", f"nothing to change; give one of {', '.join(PATCH_FIELDS)}", "InvalidInput"
        )
    values: dict[str, Any] = {}
    cleared: set[str] = set()
    for name in given:
        raw = data[name]
        if raw is None:
            if name in ("status", "comment"):
                raise InvalidInput(name, "cannot be null")
            cleared.add(name)
            continue
        if not isinstance(raw, str):
            raise InvalidInput(name, f"must be a string, not {type(raw).__name__}")
        if name == "status":
            values["status"] = parse_member(AlertStatus, raw, "status")
        elif name == "classification":
            values["classification"] = parse_member(AlertClassification, raw, "classification")
        elif name == "determination":
            values["determination"] = parse_member(AlertDetermination, raw, "determination")
        elif name == "assignedTo":
            text = check_text("assignedTo", raw)
            if text is None:
                cleared.add(name)
            else:
                values["assigned_to"] = text
        else:
            text = raw.strip()
            if not text:
                raise InvalidInput("comment", "is empty")
            if len(text) > MAX_COMMENT:
                raise InvalidInput(
                    "comment", f"is {len(text)} characters long; the limit is {MAX_COMMENT}"
                )
            values["comment"] = text
    return AlertPatch(**values, cleared=frozenset(cleared))


def apply_patch(alert: Alert, patch: AlertPatch, actor: str, now: datetime) -> Alert:
    """The alert after the patch (the same object when nothing changes). Resolving stamps the
    resolution time; moving a resolved alert back to New or InProgress clears it."""
    changes: dict[str, Any] = {}
    if patch.status is not None and patch.status is not alert.status:
        changes["status"] = patch.status
        resolved = patch.status is AlertStatus.RESOLVED
        changes["resolved_at"] = now if resolved else None
    for attribute, wire in (
        ("classification", "classification"),
        ("determination", "determination"),
        ("assigned_to", "assignedTo"),
    ):
        new = None if wire in patch.cleared else getattr(patch, attribute)
        if (new is not None or wire in patch.cleared) and new != getattr(alert, attribute):
            changes[attribute] = new
    if patch.comment is not None:
        changes["comments"] = (*alert.comments, AlertComment(patch.comment, actor, now))
    if not changes:
        return alert
    return replace(alert, last_updated_at=now, **changes)


def patch_record(before: Alert, after: Alert) -> dict[str, list[object]]:
    """Wire field -> [before, after] of what a patch changed (for the audit log)."""
    out: dict[str, list[object]] = {}
    for attribute, wire in (
        ("status", "status"),
        ("classification", "classification"),
        ("determination", "determination"),
        ("assigned_to", "assignedTo"),
    ):
        old, new = getattr(before, attribute), getattr(after, attribute)
        if old != new:
            out[wire] = [
                old.value if isinstance(old, StrEnum) else old,
                new.value if isinstance(new, StrEnum) else new,
            ]
    if len(after.comments) > len(before.comments):
        out["comment"] = [None, after.comments[-1].comment]
    return out
