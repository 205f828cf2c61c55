"""The dashboard (`/`): indicator counts by type and action, what expires soon, alerts over the
last two weeks and by status and severity, all within what the signed-in user may see."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from iocd.domain.alerts import AlertStatus
from iocd.domain.principal import Principal
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.errors import Forbidden
from iocd.services.dashboard import Dashboard
from iocd.web.charts import BarChart, bar_chart
from iocd.web.deps import CurrentUser, instance, render

router = APIRouter()

TYPE_LABELS = {
    IndicatorType.FILE_SHA256: "File SHA-256",
    IndicatorType.FILE_SHA1: "File SHA-1",
    IndicatorType.FILE_MD5: "File MD5",
    IndicatorType.CERTIFICATE_THUMBPRINT: "Certificate",
    IndicatorType.IP_ADDRESS: "IP address",
    IndicatorType.DOMAIN_NAME: "Domain",
    IndicatorType.URL: "URL",
}
STATUS_LABELS = {
    AlertStatus.NEW: "New",
    AlertStatus.IN_PROGRESS: "In progress",
    AlertStatus.RESOLVED: "Resolved",
}


@router.get("/")
def dashboard(request: Request, user: CurrentUser) -> Response:
    iocd = instance(request)
    summary = iocd.dashboard.summary(user)
    return render(
        request,
        "dashboard.html",
        nav="dashboard",
        d=summary,
        chart=_chart(summary),
        types=list(IndicatorType),
        actions=list(Action),
        statuses=list(AlertStatus),
        severities=list(Severity),
        type_labels=TYPE_LABELS,
        status_labels=STATUS_LABELS,
        expiring_url="/indicators?" + urlencode({"expires": "7d"}),
        demo_available="demo" in request.app.state.areas,
        policy_version=iocd.indicators.last_sequence(),
        agents=_agents(iocd, user),
    )


AGENTS_SHOWN = 50


def _agents(iocd: Any, user: Principal) -> dict[str, Any] | None:
    """Enrolled agents and the policy version each applied (administrators only: the agent
    service refuses others, and the dashboard then says only that agents are managed by them)."""
    try:
        agents = iocd.agents.list_agents(user)
    except Forbidden:
        return None
    current = iocd.indicators.last_sequence()
    behind = [a for a in agents if (a.applied_sequence or 0) < current]
    agents.sort(key=lambda a: (a.applied_sequence or 0, a.hostname))
    return {"all": agents[:AGENTS_SHOWN], "count": len(agents), "behind": len(behind)}


def _chart(summary: Dashboard) -> BarChart:
    """One bar per day, labelled with the day of the month (and the month on its first day
    and on the first bar)."""
    points = []
    for n, p in enumerate(summary.alerts_per_day):
        label = f"{p.day:%b} {p.day.day}" if n == 0 or p.day.day == 1 else str(p.day.day)
        plural = "" if p.count == 1 else "s"
        points.append((label, f"{p.day:%a %d %b %Y}: {p.count:,} alert{plural}", p.count))
    return bar_chart(points)
