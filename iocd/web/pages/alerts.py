"""The alerts queue and the alert page (issue 5, point 7).

- `/alerts`: the queue, filtered (pages/alert_filters.py), sorted by last event time, creation
  time or severity (services.alert_queue), paged by offset on the server.
- `/alerts/{id}`: fields, evidence, the decision with its trace, linked entities (entity pages,
  the device page), the indicator, comments; for users who may change it, the triage form
  (`POST /alerts/{id}`: status, classification, determination, assignee), "Assign to me"
  (`POST /alerts/{id}/assign`), resolve (`POST /alerts/{id}/resolve`) and a comment
  (`POST /alerts/{id}/comments`).

AlertService checks every read and change: analysts reach only the alerts of their device
groups (403, audited), read-only users change nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from iocd.domain.alert_patch import parse_alert_patch
from iocd.domain.alerts import AlertClassification, AlertDetermination, AlertStatus, Evidence
from iocd.domain.principal import Principal, Role
from iocd.domain.types import IndicatorType
from iocd.domain.values import normalise
from iocd.errors import InvalidInput
from iocd.policy.explain import explain_lines
from iocd.services.alert_queue import QUEUE_SORTS, queue_page
from iocd.web.deps import CurrentUser, instance, redirect, render
from iocd.web.pages.alert_filters import SEVERITIES, SINCE, STATUSES, QueueFilters
from iocd.web.pages.search import entity_url
from iocd.web.pagination import PageRequest

router = APIRouter()
Text = Annotated[str, Form(max_length=8192)]
STATUS_LABELS = {"open": "Open (New or In progress)", "New": "New", "InProgress": "In progress"}
STATUS_LABELS |= {"Resolved": "Resolved", "any": "Any status"}


@router.get("/alerts")
def queue(request: Request, user: CurrentUser) -> Response:
    iocd = instance(request)
    filters = QueueFilters.read(request)
    paging = PageRequest.read(request, sortable=QUEUE_SORTS, default_size=50)
    if paging.sort is None:
        paging = PageRequest(size=paging.size, sort="time", descending=True)
    page = queue_page(
        iocd.alerts,
        user,
        filters.where(user, iocd.clock.now()),
        sort=paging.sort or "time",
        descending=paging.descending,
        offset=paging.offset,
        size=paging.size,
    )
    return render(
        request,
        "alerts/queue.html",
        nav="alerts",
        title="Alerts",
        rows=page.items,
        pager=paging.pager(request, len(page.items), page.has_more),
        f=filters,
        statuses=[(s, STATUS_LABELS[s]) for s in STATUSES],
        severities=SEVERITIES,
        since_choices=list(SINCE),
    )


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, user: CurrentUser, alert_id: int) -> Response:
    alert = instance(request).alerts.get(user, alert_id)
    return render(
        request,
        "alerts/alert.html",
        nav="alerts",
        title=f"Alert {alert.id}",
        a=alert,
        lines=explain_lines(alert.decision),
        entities=[link for e in alert.evidence for link in _entity_links(e)],
        can_change=_can_change(user),
        statuses=list(AlertStatus),
        classifications=list(AlertClassification),
        determinations=list(AlertDetermination),
    )


@router.post("/alerts/{alert_id}")
def triage(
    request: Request,
    user: CurrentUser,
    alert_id: int,
    status: Text = "",
    classification: Text = "",
    determination: Text = "",
    assigned_to: Text = "",
) -> Response:
    data = {
        "status": status or None,
        "classification": classification or None,
        "determination": determination or None,
        "assignedTo": assigned_to.strip() or None,
    }
    if data["status"] is None:
        del data["status"]
    return _change(request, user, alert_id, data, "Alert updated.")


@router.post("/alerts/{alert_id}/assign")
def assign_to_me(request: Request, user: CurrentUser, alert_id: int) -> Response:
    return _change(request, user, alert_id, {"assignedTo": user.name}, "Assigned to you.")


@router.post("/alerts/{alert_id}/comments")
def comment(request: Request, user: CurrentUser, alert_id: int, text: Text = "") -> Response:
    return _change(request, user, alert_id, {"comment": text}, "Comment added.")


@router.post("/alerts/{alert_id}/resolve")
def resolve(
    request: Request,
    user: CurrentUser,
    alert_id: int,
    classification: Text = "",
    determination: Text = "",
    text: Text = "",
) -> Response:
    target = f"/alerts/{alert_id}"
    data = {
        k: v for k, v in (("classification", classification), ("determination", determination)) if v
    }
    if text.strip():
        data["comment"] = text
    try:
        patch = parse_alert_patch(data) if data else None
    except InvalidInput as error:
        return redirect(target, flash=f"{error.field}: {error.reason}", category="error")
    instance(request).alerts.resolve(user, alert_id, patch)
    return redirect(target, flash="Alert resolved.", category="success")


def _change(
    request: Request, user: Principal, alert_id: int, data: dict[str, str | None], done: str
) -> Response:
    target = f"/alerts/{alert_id}"
    try:
        patch = parse_alert_patch(data)
    except InvalidInput as error:
        return redirect(target, flash=f"{error.field}: {error.reason}", category="error")
    instance(request).alerts.update(user, alert_id, patch)
    return redirect(target, flash=done, category="success")


def _can_change(user: Principal) -> bool:
    return user.role is not Role.READ_ONLY


def _entity_links(evidence: Evidence) -> list[tuple[str, str, str]]:
    """(label, value, entity page) for each identifying field of the evidence."""
    fields = (
        ("SHA-256", evidence.sha256, IndicatorType.FILE_SHA256),
        ("SHA-1", evidence.sha1, IndicatorType.FILE_SHA1),
        ("MD5", evidence.md5, IndicatorType.FILE_MD5),
        ("IP address", evidence.ip_address, IndicatorType.IP_ADDRESS),
        ("Domain", evidence.domain_name, IndicatorType.DOMAIN_NAME),
        ("URL", evidence.url, IndicatorType.URL),
    )
    out = []
    for label, value, kind in fields:
        if value:
            try:
                out.append((label, value, entity_url(kind, normalise(kind, value))))
            except InvalidInput:
                out.append((label, value, ""))
    return out
