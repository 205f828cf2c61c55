"""The alerts queue of the portal: one page of alerts under a filter, ordered by time or by
severity, over AlertService (which applies roles and device groups).

Severity is stored as text, whose order (High < Informational < Low < Medium) is not the
severity order; ordering by severity therefore counts the alerts of each severity under the
filter (one grouped count) and reads the page from the severities it spans, each by time,
newest first. The queue pages by offset; within a severity the store's order is stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from iocd.domain.alerts import Alert, AlertQuery
from iocd.domain.principal import Principal
from iocd.domain.query import And, Compare, Expr, Op
from iocd.domain.types import Severity
from iocd.services.alerts import AlertService

__all__ = ["QUEUE_SORTS", "QueuePage", "queue_page"]

SEVERITY_ORDER = (Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFORMATIONAL)
QUEUE_SORTS = {"time": "lastEventTime", "created": "alertCreationTime", "severity": "severity"}
"""Queue sort name -> the alert field it orders by."""


@dataclass(frozen=True, slots=True)
class QueuePage:
    items: list[Alert]
    has_more: bool
    total: int | None = None


def queue_page(
    alerts: AlertService,
    principal: Principal,
    where: Expr | None,
    *,
    sort: str = "time",
    descending: bool = True,
    offset: int = 0,
    size: int = 50,
) -> QueuePage:
    """Rows `offset` to `offset + size` of the alerts under `where`, in the chosen order (ties,
    and each severity, by last event time, newest first, then id)."""
    if sort != "severity":
        field = QUEUE_SORTS.get(sort, "lastEventTime")
        query = AlertQuery(where=where, order_by=((field, descending),), skip=offset, top=size)
        page = alerts.list(principal, query)
        return QueuePage(page.items, page.has_more)
    counts = alerts.count_by(principal, ["severity"], AlertQuery(where=where))
    order = SEVERITY_ORDER if descending else tuple(reversed(SEVERITY_ORDER))
    total = sum(counts.values())
    items: list[Alert] = []
    start = 0
    for severity in order:
        count = counts.get((severity.value,), 0)
        end = start + count
        wanted_from, wanted_to = max(offset, start), min(offset + size, end)
        if wanted_from < wanted_to:
            only = Compare("severity", Op.EQ, severity.value)
            query = AlertQuery(
                where=only if where is None else And((where, only)),
                order_by=(("lastEventTime", True),),
                skip=wanted_from - start,
                top=wanted_to - wanted_from,
            )
            items.extend(alerts.list(principal, query).items)
        start = end
    return QueuePage(items, offset + size < total, total)
