"""The Indicators API (SPEC section 7), compatible with Defender for Endpoint's."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import ValidationError

from iocd.api.deps import Caller, Iocd, JsonBody
from iocd.api.errors import ApiError
from iocd.api.listing import Listing
from iocd.api.schemas import BatchDeleteIn, ImportIn, IndicatorIn
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.query import IndicatorQuery
from iocd.domain.wire import indicator_to_wire, sightings_to_wire
from iocd.errors import InvalidInput, IocdError, NotFound

router = APIRouter(tags=["indicators"])


def _invalid_body(error: ValidationError) -> InvalidInput:
    first = error.errors()[0]
    # The bodies are flat: a field name, then list indexes; later parts name union members.
    loc = list(first["loc"])
    parts = loc[:1] + list(itertools.takewhile(lambda p: isinstance(p, int), loc[1:]))
    where = ".".join(str(p) for p in parts) or "body"
    if first["type"] == "missing":
        return InvalidInput(where, "is required", "MissingRequiredParameter")
    return InvalidInput(where, first["msg"], "InvalidRequestBody")


def draft_from_wire(data: Any) -> IndicatorDraft:
    """One MDE indicator body -> a validated draft (InvalidInput on the first bad field)."""
    if not isinstance(data, dict):
        raise InvalidInput("body", "an indicator must be a JSON object", "InvalidRequestBody")
    try:
        body = IndicatorIn.model_validate(data)
    except ValidationError as error:
        raise _invalid_body(error) from None
    fields = build_fields(
        indicator_type=body.indicatorType,
        value=body.indicatorValue,
        action=body.action,
        title=body.title,
        description=body.description,
        severity=body.severity,
        generate_alert=body.generateAlert,
        expiration_time=body.expirationTime,
        recommended_actions=body.recommendedActions,
        application=body.application,
        educate_url=body.educateUrl,
        external_id=body.externalId,
        category=body.category,
        mitre_techniques=body.mitreTechniques or (),
        rbac_group_names=body.rbacGroupNames or (),
    )
    return IndicatorDraft(fields, _optional_id(body.id), body.overrideJustification)


def _optional_id(raw: str | int | None) -> int | None:
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("id", f"{raw!r} is not an indicator id")
    return int(text)


def _path_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"indicator {raw} not found")
    return int(raw)


def _openapi_body(model: type[Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


@router.get(
    "/indicators", summary="List indicators (OData: $filter, $top, $skip, $orderby, $count)"
)
@router.get("/indicators/", include_in_schema=False)
def list_indicators(
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
    listing = Listing.read(request)
    query = IndicatorQuery(
        where=listing.where,
        order_by=listing.order,
        top=listing.top,
        skip=listing.skip,
        after_id=listing.after,
    )
    page = iocd.indicators.list(query, principal, count=listing.count)
    return listing.body(
        request,
        "Indicators",
        page.items,
        indicator_to_wire,
        total=page.total,
        has_more=page.has_more,
    )


@router.get(
    "/indicators/{indicator_id}",
    summary="Get one indicator with its sightings (iocd extension)",
    description="Besides the indicator's fields: sightingCount, sightingDeviceCount, firstSeen "
    "and lastSeen (how often, on how many devices and when it matched; 0 and null if never).",
)
def get_indicator(indicator_id: str, principal: Caller, iocd: Iocd) -> dict[str, Any]:
    indicator = iocd.indicators.get(_path_id(indicator_id), principal)
    sightings = iocd.alerts.sightings_for([indicator.id]).get(indicator.id)
    return {**indicator_to_wire(indicator), **sightings_to_wire(sightings)}


@router.post(
    "/indicators",
    summary="Submit or update one indicator",
    openapi_extra=_openapi_body(IndicatorIn),
)
def submit_indicator(principal: Caller, iocd: Iocd, body: JsonBody) -> dict[str, Any]:
    result = iocd.indicators.submit(draft_from_wire(body), principal)
    assert result.indicator is not None
    return indicator_to_wire(result.indicator)


@router.post(
    "/indicators/import",
    summary="Submit or update many indicators",
    openapi_extra=_openapi_body(ImportIn),
)
def import_indicators(principal: Caller, iocd: Iocd, body: JsonBody) -> dict[str, Any]:
    try:
        items = ImportIn.model_validate(body).Indicators
    except ValidationError as error:
        raise _invalid_body(error) from None
    limit = iocd.settings.import_batch_size
    if len(items) > limit:
        raise ApiError(
            400,
            "MaximumBatchSizeExceeded",
            f"{len(items)} indicators exceed the batch size of {limit}",
            "Indicators",
        )
    failures: dict[int, IocdError] = {}
    drafts: list[tuple[int, IndicatorDraft]] = []
    for index, item in enumerate(items):
        try:
            drafts.append((index, draft_from_wire(item)))
        except IocdError as error:
            failures[index] = error
    results = iocd.indicators.import_batch([d for _, d in drafts], principal, max_batch=limit)
    by_index = {index: result for (index, _), result in zip(drafts, results, strict=True)}
    value = []
    for index, item in enumerate(items):
        submitted = item.get("indicatorValue") if isinstance(item, dict) else None
        result = by_index.get(index)
        problem = failures.get(index) or (result.error if result else None)
        stored = result.indicator if result and not result.failed else None
        value.append(
            {
                "id": str(stored.id) if stored else None,
                "indicator": submitted if isinstance(submitted, str) else None,
                "isFailed": problem is not None,
                "failureReason": problem.message if problem is not None else None,
            }
        )
    return {"value": value}


@router.delete("/indicators/{indicator_id}", status_code=204, summary="Delete one indicator")
def delete_indicator(indicator_id: str, principal: Caller, iocd: Iocd) -> Response:
    iocd.indicators.delete(_path_id(indicator_id), principal)
    return Response(status_code=204)


@router.post(
    "/indicators/BatchDelete",
    status_code=204,
    summary="Delete many, all or nothing",
    openapi_extra=_openapi_body(BatchDeleteIn),
)
def batch_delete(principal: Caller, iocd: Iocd, body: JsonBody) -> Response:
    try:
        ids = BatchDeleteIn.model_validate(body).IndicatorIds
    except ValidationError as error:
        raise _invalid_body(error) from None
    if not ids:
        raise InvalidInput("IndicatorIds", "is empty", "InvalidRequestBody")
    if len(ids) > iocd.settings.import_batch_size:
        raise ApiError(
            400,
            "MaximumBatchSizeExceeded",
            f"{len(ids)} ids exceed the batch size of {iocd.settings.import_batch_size}",
            "IndicatorIds",
        )
    parsed = [_optional_id(i) for i in ids]
    iocd.indicators.delete_many([i for i in parsed if i is not None], principal)
    return Response(status_code=204)
