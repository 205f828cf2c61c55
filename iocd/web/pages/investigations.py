"""Automated investigations in the portal (issue 6, point 6).

- `/investigations`: newest first, filtered by status, paged by offset;
- `/investigations/{id}`: the verdict, entities, every recorded step and the remediation tasks;
- `/alerts/{id}/investigation`: the alert page's link, redirected to its investigation.

InvestigationService checks every read: analysts see their device groups' investigations only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from iocd.domain.investigations import InvestigationStatus
from iocd.web.deps import CurrentUser, instance, redirect, render

router = APIRouter()
PAGE = 50


@router.get("/investigations")
def investigations(request: Request, user: CurrentUser) -> Response:
    status = request.query_params.get("status") or None
    if status not in {s.value for s in InvestigationStatus}:
        status = None
    raw = request.query_params.get("offset", "0")
    offset = int(raw) if raw.isdigit() else 0
    page = instance(request).investigations.list(user, status, PAGE, offset)
    return render(
        request,
        "investigations/list.html",
        nav="investigations",
        title="Investigations",
        rows=page.items,
        total=page.total,
        status=status or "",
        statuses=[s.value for s in InvestigationStatus],
        offset=offset,
        page_size=PAGE,
    )


@router.get("/investigations/{investigation_id}")
def investigation(request: Request, user: CurrentUser, investigation_id: int) -> Response:
    item, tasks = instance(request).investigations.get(user, investigation_id)
    return render(
        request,
        "investigations/investigation.html",
        nav="investigations",
        title=f"Investigation {item.id}",
        i=item,
        tasks=tasks,
    )


@router.get("/alerts/{alert_id}/investigation")
def of_alert(request: Request, user: CurrentUser, alert_id: int) -> Response:
    found = instance(request).investigations.for_alert(user, alert_id)
    if found is None:
        return redirect(f"/alerts/{alert_id}", flash="No investigation has run on this alert yet.")
    return redirect(f"/investigations/{found.id}")
