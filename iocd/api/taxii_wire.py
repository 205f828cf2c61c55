"""TAXII 2.1 on the wire: media types, the query parameters of a request, the envelope of a
POST, and the JSON resources the door answers with (discovery, API root, collections,
envelopes, manifests, versions, statuses, errors)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from iocd.codecs.interchange import ImportDefaults
from iocd.codecs.rows import CsvRow
from iocd.codecs.stix import label_defaults, read_indicator
from iocd.codecs.stix_export import stix_id, to_stix
from iocd.domain.indicator import IndicatorFields, parse_datetime
from iocd.domain.types import Action
from iocd.errors import InvalidInput
from iocd.services.taxii import (
    MAX_PAGE,
    Collection,
    Filters,
    PageRequest,
    Served,
    ServedPage,
    Status,
    Submitted,
)

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
WRITABLE_MEDIA = ("application/taxii+json", "application/stix+json")
VERSION_KEYWORDS = frozenset({"first", "last", "all"})


def taxii_timestamp(value: datetime) -> str:
    """A TAXII/STIX timestamp with every microsecond kept: `date_added` and the headers must
    round-trip exactly through `added_after`."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}Z"


def stix_timestamp(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# -- requests --------------------------------------------------------------------------------


def _listed(params: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = params.get(name)
    if raw is None:
        return ()
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _timestamp(name: str, raw: str) -> datetime:
    try:
        return parse_datetime(name, raw)
    except InvalidInput:
        raise InvalidInput(
            name, f"{raw!r} is not a timestamp like 2030-01-31T00:00:00.000Z"
        ) from None


def read_filters(params: Mapping[str, str]) -> Filters:
    raw_after = params.get("added_after")
    versions = _listed(params, "match[version]")
    return Filters(
        added_after=_timestamp("added_after", raw_after) if raw_after else None,
        ids=_listed(params, "match[id]"),
        types=_listed(params, "match[type]"),
        spec_versions=_listed(params, "match[spec_version]"),
        version_keywords=frozenset(v for v in versions if v in VERSION_KEYWORDS),
        version_times=tuple(
            _timestamp("match[version]", v) for v in versions if v not in VERSION_KEYWORDS
        ),
    )


def read_page_request(params: Mapping[str, str], default_limit: int) -> PageRequest:
    """Filters, `next` and `limit` (a limit past the maximum is lowered to it, as TAXII
    allows: the envelope then holds fewer objects than asked for)."""
    raw_limit, raw_next = params.get("limit"), params.get("next")
    limit = default_limit
    if raw_limit is not None:
        if not raw_limit.strip().isdigit() or int(raw_limit) < 1:
            raise InvalidInput("limit", f"{raw_limit!r} is not a positive integer")
        limit = min(int(raw_limit), MAX_PAGE)
    after = None
    if raw_next is not None:
        if not raw_next.isdigit() or len(raw_next) > 18:
            raise InvalidInput("next", "is not a value this server handed out")
        after = int(raw_next)
    return PageRequest(read_filters(params), after, limit)


def read_envelope(body: Any) -> list[Any]:
    """The objects of a TAXII envelope (or of a STIX bundle); InvalidInput if it is neither."""
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a TAXII envelope: a JSON object with 'objects'")
    objects = body.get("objects")
    if not isinstance(objects, list):
        raise InvalidInput("objects", "must be a list of STIX objects")
    return objects


def read_object(obj: Any, collection: Collection, now: datetime) -> Submitted:
    """One envelope object as the service takes it: the indicator fields its pattern names,
    with the collection's action (or, in `all`, the one its label names, else Audit)."""
    if not isinstance(obj, dict):
        return Submitted("", "", failure="the object is not a JSON object")
    stix_id, version = str(obj.get("id", "")), str(obj.get("modified", obj.get("created", "")))
    kind = obj.get("type")
    if kind != "indicator":
        return Submitted(
            stix_id, version, failure=f"iocd stores indicator objects only, not {kind!r}"
        )
    base = ImportDefaults(collection.action or Action.AUDIT)
    try:
        defaults = label_defaults(obj, base, take_action=collection.action is None)
    except InvalidInput as exc:
        return Submitted(stix_id, version, failure=exc.message)
    rows: list[IndicatorFields | str] = [
        item.fields if isinstance(item, CsvRow) else item.reason
        for item in read_indicator(1, obj, defaults, now)
    ]
    return Submitted(stix_id, version, tuple(rows))


# -- answers ---------------------------------------------------------------------------------


def discovery(api_root: str) -> dict[str, Any]:
    return {
        "title": "iocd",
        "description": "The iocd indicator list as TAXII 2.1 collections.",
        "default": api_root,
        "api_roots": [api_root],
    }


def api_root_resource(max_content_length: int) -> dict[str, Any]:
    return {
        "title": "iocd indicators",
        "description": "One collection with every indicator, and one per action.",
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": max_content_length,
    }


def collection_resource(collection: Collection, *, can_write: bool) -> dict[str, Any]:
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "alias": collection.alias,
        "can_read": True,
        "can_write": can_write,
        "media_types": [STIX_MEDIA_TYPE],
    }


def stix_object(served: Served) -> dict[str, Any]:
    return to_stix(served.version.indicator, modified_at=served.modified, revoked=served.withdrawn)


def _paged(page: ServedPage, key: str, items: list[Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = str(page.next)
    if items:
        body[key] = items
    return body


def envelope(page: ServedPage) -> dict[str, Any]:
    return _paged(page, "objects", [stix_object(s) for s in page.items])


def manifest(page: ServedPage) -> dict[str, Any]:
    records = [
        {
            "id": stix_id(s.version.indicator.id),
            "date_added": taxii_timestamp(s.date_added),
            "version": stix_timestamp(s.modified),
            "media_type": STIX_MEDIA_TYPE,
        }
        for s in page.items
    ]
    return _paged(page, "objects", records)


def versions(page: ServedPage) -> dict[str, Any]:
    return _paged(page, "versions", [stix_timestamp(s.modified) for s in page.items])


def date_added_headers(page: ServedPage) -> dict[str, str]:
    if not page.items:
        return {}
    return {
        "X-TAXII-Date-Added-First": taxii_timestamp(page.items[0].date_added),
        "X-TAXII-Date-Added-Last": taxii_timestamp(page.items[-1].date_added),
    }


def status_resource(status: Status) -> dict[str, Any]:
    def details(outcomes: tuple[Any, ...]) -> list[dict[str, str]]:
        out = []
        for outcome in outcomes:
            item = {"id": outcome.stix_id, "version": outcome.version}
            if outcome.message:
                item["message"] = outcome.message
            out.append(item)
        return out

    return {
        "id": status.id,
        "status": "complete",
        "request_timestamp": taxii_timestamp(status.requested_at),
        "total_count": status.total,
        "success_count": len(status.successes),
        "successes": details(status.successes),
        "failure_count": len(status.failures),
        "failures": details(status.failures),
        "pending_count": 0,
        "pendings": [],
    }


def error_resource(status: int, title: str, description: str) -> dict[str, Any]:
    return {"title": title, "description": description, "http_status": str(status)}
