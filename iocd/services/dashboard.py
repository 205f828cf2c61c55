"""The dashboard's figures for one principal: a handful of grouped counts, never a scan of rows
in Python, all within what the principal may see (policy.access through the services)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from iocd.clock import Clock
from iocd.domain.alerts import AlertStatus
from iocd.domain.principal import Principal
from iocd.domain.query import Compare, IndicatorQuery, Op
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.services.alerts import AlertService
from iocd.services.indicators import IndicatorService

EXPIRING_WITHIN = timedelta(days=7)
ALERT_DAYS = 14


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    """`by_type_action[type][action]` counts active indicators; `alerts_per_day` runs oldest to
    newest and ends today (UTC); `alerts_by_status_severity[status][severity]`."""

    by_type_action: dict[IndicatorType, dict[Action, int]]
    active_total: int
    expiring_soon: int
    expiring_before: datetime
    alerts_per_day: list[DayCount]
    alerts_by_status_severity: dict[AlertStatus, dict[Severity, int]]
    alerts_total: int

    def type_total(self, indicator_type: IndicatorType) -> int:
        return sum(self.by_type_action[indicator_type].values())

    def action_total(self, action: Action) -> int:
        return sum(row[action] for row in self.by_type_action.values())

    def status_total(self, status: AlertStatus) -> int:
        return sum(self.alerts_by_status_severity[status].values())


class DashboardService:
    def __init__(self, indicators: IndicatorService, alerts: AlertService, clock: Clock) -> None:
        self._indicators = indicators
        self._alerts = alerts
        self._clock = clock

    def summary(self, principal: Principal) -> Dashboard:
        now = self._clock.now()
        by_type_action = {t: dict.fromkeys(Action, 0) for t in IndicatorType}
        for (kind, action), n in self._indicators.count_by(
            principal, ("indicatorType", "action")
        ).items():
            by_type_action[IndicatorType(str(kind))][Action(str(action))] += n
        before = now + EXPIRING_WITHIN
        expiring = self._indicators.count(
            principal, IndicatorQuery(where=Compare("expirationTime", Op.LE, before))
        )
        today = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
        since = today - timedelta(days=ALERT_DAYS - 1)
        per_day = self._alerts.count_per_day(principal, since, ALERT_DAYS)
        days = [DayCount((since + timedelta(days=n)).date(), c) for n, c in enumerate(per_day)]
        by_status = {s: dict.fromkeys(Severity, 0) for s in AlertStatus}
        for (status, severity), n in self._alerts.count_by(
            principal, ("status", "severity")
        ).items():
            by_status[AlertStatus(str(status))][Severity(str(severity))] += n
        return Dashboard(
            by_type_action,
            sum(sum(row.values()) for row in by_type_action.values()),
            expiring,
            before,
            days,
            by_status,
            sum(sum(row.values()) for row in by_status.values()),
        )
