"""What an alert copies from its indicator when it is raised (SPEC section 6): title,
description, severity, category, techniques, recommended actions, and who created it (an
application holding only Ti.ReadWrite sees the alerts of its own indicators)."""

from __future__ import annotations

from dataclasses import dataclass

from iocd.domain.indicator import Indicator
from iocd.domain.types import Severity

__all__ = ["AlertSource", "source_of"]


@dataclass(frozen=True, slots=True)
class AlertSource:
    indicator_id: int
    title: str
    description: str
    severity: Severity
    category: str | None
    mitre_techniques: tuple[str, ...]
    recommended_actions: str | None
    created_by: str


def source_of(indicator: Indicator) -> AlertSource:
    f = indicator.fields
    return AlertSource(
        indicator.id,
        f.title,
        f.description,
        f.severity,
        f.category,
        f.mitre_techniques,
        f.recommended_actions,
        indicator.created_by,
    )
