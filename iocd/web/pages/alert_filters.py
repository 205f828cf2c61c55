"""The filters of the alerts queue (`/alerts`), read from the query string into a filter tree.

Parameters: `status` (`open`, the default: New and InProgress; `New`, `InProgress`,
`Resolved`, or `any`), `severity`, `device` (a device id or name), `indicator` (an id),
`entity` (the matched value), `historical` (`yes`/`no`), `since` (`24h`, `7d`, `30d`) on the
last event time, and `assigned` (`me`, or `none` for unassigned). Unknown values are ignored
(the filter is shown as "any").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request

from iocd.domain.alerts import AlertStatus
from iocd.domain.principal import Principal
from iocd.domain.query import And, Compare, Expr, In, Op, Or
from iocd.domain.types import Severity

SINCE = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
STATUSES = ("open", *(s.value for s in AlertStatus), "any")
SEVERITIES = tuple(
    s.value for s in (Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFORMATIONAL)
)
MAX_TEXT = 1024


@dataclass(frozen=True, slots=True)
class QueueFilters:
    status: str = "open"
    severity: str = ""
    device: str = ""
    indicator: str = ""
    entity: str = ""
    historical: str = ""
    since: str = ""
    assigned: str = ""

    @classmethod
    def read(cls, request: Request) -> QueueFilters:
        p = request.query_params
        status = p.get("status", "open")
        indicator = p.get("indicator", "").strip()
        return cls(
            status=status if status in STATUSES else "open",
            severity=p.get("severity", "") if p.get("severity", "") in SEVERITIES else "",
            device=p.get("device", "").strip()[:MAX_TEXT],
            indicator=indicator if indicator.isdigit() and len(indicator) < 19 else "",
            entity=p.get("entity", "").strip()[:8192],
            historical=p.get("historical", "") if p.get("historical") in ("yes", "no") else "",
            since=p.get("since", "") if p.get("since", "") in SINCE else "",
            assigned=p.get("assigned", "") if p.get("assigned") in ("me", "none") else "",
        )

    @property
    def active(self) -> bool:
        return self != QueueFilters()

    def where(self, user: Principal, now: datetime) -> Expr | None:
        terms: list[Expr] = []
        if self.status == "open":
            terms.append(In("status", (AlertStatus.NEW.value, AlertStatus.IN_PROGRESS.value)))
        elif self.status != "any":
            terms.append(Compare("status", Op.EQ, self.status))
        if self.severity:
            terms.append(Compare("severity", Op.EQ, self.severity))
        if self.device:
            terms.append(
                Or(
                    (
                        Compare("machineId", Op.EQ, self.device),
                        Compare("computerDnsName", Op.EQ, self.device),
                    )
                )
            )
        if self.indicator:
            terms.append(Compare("indicatorId", Op.EQ, int(self.indicator)))
        if self.entity:
            terms.append(Compare("entity", Op.EQ, self.entity))
        if self.historical:
            terms.append(Compare("historical", Op.EQ, self.historical == "yes"))
        if self.since:
            terms.append(Compare("lastEventTime", Op.GE, now - SINCE[self.since]))
        if self.assigned == "me":
            terms.append(Compare("assignedTo", Op.EQ, user.name))
        elif self.assigned == "none":
            terms.append(Compare("assignedTo", Op.EQ, None))
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else And(tuple(terms))
