"""The Alerts API (SPEC section 6), shaped like Defender for Endpoint's: list with OData,
get one, and triage with PATCH.

Who sees what (policy.access): administrators and Ti.ReadWrite.All applications every alert;
analysts the alerts of devices in their groups; an application holding only Ti.ReadWrite the
alerts raised by indicators it created (as it sees only its own indicators); read-only users
read what they may see and change nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from iocd.api.deps import Caller, Iocd, JsonBody
from iocd.api.listing import Listing
from iocd.api.schemas import AlertPatchIn
from iocd.domain.alert_patch import parse_alert_patch
from iocd.domain.alerts import ALERT_FIELDS, Alert, AlertQuery, alert_to_wire
from iocd.errors import NotFound
from iocd.policy.explain import decision_to_wire

router = APIRouter(tags=["alerts"])


def wire(alert: Alert) -> dict[str, Any]:
    return alert_to_wire(alert, decision_to_wire(alert.decision))


def _alert_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"alert {raw} not found")
    return int(raw)


@router.get("/alerts", summary="List alerts (OData: $filter, $top, $skip, $orderby, $count)")
@router.get("/alerts/", include_in_schema=False)
def list_alerts(
    request: Request,
    principal: Caller,
    iocd: Iocd,
    filter_: str | None = Query(None, alias="$filter"),
    top: str | None = Query(None, alias="$top"),
    skip: str | None = Query(None, alias="$skip"),
    orderby: str | None = Query(None, alias="$orderby"),
    count: str | None = Query(None, alias="$count"),
    skiptoken: str | None = Query(None, alias="$skiptoken", description="From @odata.nextLink."),
) -> dict[str, Any]:
    listing = Listing.read(request, ALERT_FIELDS)
    query = AlertQuery(
        where=listing.where,
        order_by=listing.order,
        top=listing.top,
        skip=listing.skip,
        after_id=listing.after,
    )
    page = iocd.alerts.list(principal, query, count=listing.count)
    return listing.body(
        request, "Alerts", page.items, wire, total=page.total, has_more=page.has_more
    )


@router.get("/alerts/{alert_id}", summary="Get one alert")
def get_alert(alert_id: str, principal: Caller, iocd: Iocd) -> dict[str, Any]:
    return wire(iocd.alerts.get(principal, _alert_id(alert_id)))


@router.patch(
    "/alerts/{alert_id}",
    summary="Triage an alert: status, classification, determination, assignedTo, comment",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AlertPatchIn.model_json_schema()}},
        }
    },
)
def patch_alert(alert_id: str, principal: Caller, iocd: Iocd, body: JsonBody) -> dict[str, Any]:
    target = _alert_id(alert_id)
    return wire(iocd.alerts.update(principal, target, parse_alert_patch(body)))
