"""The Alerts API (SPEC section 6), shaped like Defender for Endpoint's: list with OData,
get one, and triage with PATCH.

Who sees what (policy.access): administrators and Ti.ReadWrite.All applications every alert;
analysts the alerts of devices in their groups; an application holding only Ti.ReadWrite the
alerts raised by indicators it created (as it sees only its own indicators); read-only users
read what they may see and change nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request

from iocd.api.deps import Caller, Iocd, JsonBody
from iocd.api.odata import (
    parse_count,
    parse_filter,
    parse_orderby,
    parse_skip,
    parse_top,
    split_query,
)
from iocd.api.schemas import AlertPatchIn
from iocd.domain.alerts import ALERT_FIELDS, Alert, AlertQuery, alert_to_wire, parse_alert_patch
from iocd.errors import InvalidInput, NotFound
from iocd.policy.explain import decision_to_wire

router = APIRouter(tags=["alerts"])
DEFAULT_PAGE = 10_000


def wire(alert: Alert) -> dict[str, Any]:
    return alert_to_wire(alert, decision_to_wire(alert.decision))


def _alert_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"alert {raw} not found")
    return int(raw)


def _skiptoken(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("$skiptoken", "must be the token from an @odata.nextLink", "ODataError")
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
    options = split_query(request.scope.get("query_string", b"").decode("latin-1"))
    page_size = parse_top(options["$top"]) if "$top" in options else DEFAULT_PAGE
    offset = parse_skip(options["$skip"]) if "$skip" in options else 0
    order = (
        parse_orderby(options["$orderby"], ALERT_FIELDS)
        if options.get("$orderby", "").strip()
        else ()
    )
    where_text = options.get("$filter", "")
    query = AlertQuery(
        where=parse_filter(where_text, ALERT_FIELDS) if where_text.strip() else None,
        order_by=order,
        top=page_size,
        skip=offset,
        after_id=_skiptoken(options.get("$skiptoken")) if not order else None,
    )
    want_count = parse_count(options["$count"]) if "$count" in options else False
    page = iocd.alerts.list(principal, query, count=want_count)
    root = str(request.base_url).rstrip("/")
    body: dict[str, Any] = {"@odata.context": f"{root}/api/$metadata#Alerts"}
    if page.total is not None:
        body["@odata.count"] = page.total
    body["value"] = [wire(a) for a in page.items]
    if page.has_more and page_size > 0:
        params = {k: v for k, v in options.items() if k in ("$filter", "$orderby", "$count")}
        params["$top"] = str(page_size)
        if order:
            params["$skip"] = str(offset + page_size)
        else:  # id order: continue after the last id sent (keyset)
            params["$skiptoken"] = str(page.items[-1].id)
        query_string = urlencode(params, quote_via=quote, safe="$")
        body["@odata.nextLink"] = f"{root}{request.url.path}?{query_string}"
    return body


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
