"""The TAXII 2.1 endpoints (mounted at /taxii2 by api.taxii_app): discovery, the API root,
collections, objects (read, add, delete), manifests, versions and statuses.

Each route parses the request (api.taxii_wire), calls the TAXII service once and renders the
resource; the service checks the caller's role and device groups.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from iocd.api.deps import MAX_BODY_BYTES, json_body
from iocd.api.errors import ApiError
from iocd.api.taxii_auth import taxii_caller
from iocd.api.taxii_wire import (
    STIX_MEDIA_TYPE,
    TAXII_MEDIA_TYPE,
    WRITABLE_MEDIA,
    api_root_resource,
    collection_resource,
    date_added_headers,
    discovery,
    envelope,
    manifest,
    read_envelope,
    read_object,
    read_page_request,
    status_resource,
    versions,
)
from iocd.compose import Instance
from iocd.domain.principal import Principal
from iocd.services.taxii import DEFAULT_PAGE, ServedPage, TaxiiService, can_write

NOT_ACCEPTABLE = f"this server answers {TAXII_MEDIA_TYPE}"


def _media_parameters(header: str) -> list[tuple[str, str | None]]:
    """(media type, version parameter) of each entry of an Accept or Content-Type header."""
    found = []
    for entry in header.split(","):
        media, *parameters = (part.strip() for part in entry.split(";"))
        version = None
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "version":
                version = value.strip().strip('"')
        found.append((media.lower(), version))
    return found


def acceptable(request: Request) -> None:
    """406 unless the client accepts TAXII 2.1 (or anything, or JSON)."""
    header = request.headers.get("accept", "").strip()
    if not header:
        return
    for media, version in _media_parameters(header):
        if media in ("*/*", "application/*", "application/json"):
            return
        if media == "application/taxii+json" and version in (None, "2.1"):
            return
    raise ApiError(406, "NotAcceptable", f"{NOT_ACCEPTABLE}, not {header}")


async def envelope_objects(request: Request) -> list[Any]:
    """The objects of a POSTed envelope: 415 for another media type, 413 past the size
    limit, 400 for anything that is not an envelope."""
    header = request.headers.get("content-type", "")
    media, version = _media_parameters(header)[0] if header else ("", None)
    if media not in WRITABLE_MEDIA or version not in (None, "2.1"):
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"send {TAXII_MEDIA_TYPE} (or {STIX_MEDIA_TYPE}), not {header or 'nothing'}",
        )
    return read_envelope(await json_body(request))


router = APIRouter(dependencies=[Depends(acceptable)])
Caller = Annotated[Principal, Depends(taxii_caller)]
Objects = Annotated[list[Any], Depends(envelope_objects)]


def _service(request: Request) -> TaxiiService:
    service: TaxiiService = request.app.state.taxii
    return service


Taxii = Annotated[TaxiiService, Depends(_service)]


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


@router.get("/")
def get_discovery(request: Request, _: Caller) -> dict[str, Any]:
    return discovery(str(request.url_for("get_api_root")))


@router.get("/api/")
def get_api_root(_: Caller) -> dict[str, Any]:
    return api_root_resource(MAX_BODY_BYTES)


@router.get("/api/collections/")
def get_collections(principal: Caller, taxii: Taxii) -> dict[str, Any]:
    writable = can_write(principal)
    return {
        "collections": [collection_resource(c, can_write=writable) for c in taxii.collections()]
    }


@router.get("/api/collections/{collection_id}/")
def get_collection(collection_id: str, principal: Caller, taxii: Taxii) -> dict[str, Any]:
    return collection_resource(taxii.collection(collection_id), can_write=can_write(principal))


@router.get("/api/collections/{collection_id}/objects/")
def get_objects(
    collection_id: str, request: Request, response: Response, principal: Caller, taxii: Taxii
) -> dict[str, Any]:
    collection = taxii.collection(collection_id)
    page = taxii.page(collection, read_page_request(_params(request), DEFAULT_PAGE), principal)
    response.headers.update(date_added_headers(page))
    return envelope(page)


@router.post("/api/collections/{collection_id}/objects/", status_code=202)
def add_objects(
    collection_id: str, request: Request, principal: Caller, taxii: Taxii, objects: Objects
) -> dict[str, Any]:
    collection = taxii.collection(collection_id)
    instance: Instance = request.app.state.instance
    limit = instance.settings.import_batch_size
    if len(objects) > limit:
        raise ApiError(
            413, "RequestEntityTooLarge", f"{len(objects)} objects exceed the limit of {limit}"
        )
    now = instance.clock.now()
    submitted = [read_object(obj, collection, now) for obj in objects]
    return status_resource(taxii.add(collection, submitted, principal))


@router.get("/api/collections/{collection_id}/objects/{object_id}/")
def get_object(
    collection_id: str,
    object_id: str,
    request: Request,
    response: Response,
    principal: Caller,
    taxii: Taxii,
) -> dict[str, Any]:
    return envelope(_object_page(collection_id, object_id, request, response, principal, taxii))


def _object_page(
    collection_id: str,
    object_id: str,
    request: Request,
    response: Response,
    principal: Principal,
    taxii: TaxiiService,
) -> ServedPage:
    """The versions of one object (paged), with the date-added headers set on `response`."""
    collection = taxii.collection(collection_id)
    asked = read_page_request(_params(request), DEFAULT_PAGE)
    page = taxii.object(collection, object_id, asked, principal)
    response.headers.update(date_added_headers(page))
    return page


@router.delete("/api/collections/{collection_id}/objects/{object_id}/")
def delete_object(
    collection_id: str, object_id: str, principal: Caller, taxii: Taxii
) -> dict[str, Any]:
    taxii.delete(taxii.collection(collection_id), object_id, principal)
    return {}


@router.get("/api/collections/{collection_id}/objects/{object_id}/versions/")
def get_object_versions(
    collection_id: str,
    object_id: str,
    request: Request,
    response: Response,
    principal: Caller,
    taxii: Taxii,
) -> dict[str, Any]:
    return versions(_object_page(collection_id, object_id, request, response, principal, taxii))


@router.get("/api/collections/{collection_id}/manifest/")
def get_manifest(
    collection_id: str, request: Request, response: Response, principal: Caller, taxii: Taxii
) -> dict[str, Any]:
    collection = taxii.collection(collection_id)
    page = taxii.page(collection, read_page_request(_params(request), DEFAULT_PAGE), principal)
    response.headers.update(date_added_headers(page))
    return manifest(page)


@router.get("/api/status/{status_id}/")
@router.get("/api/status/{status_id}", include_in_schema=False)
def get_status(status_id: str, principal: Caller, taxii: Taxii) -> dict[str, Any]:
    """taxii2-client asks for the status without the trailing slash: both are served."""
    return status_resource(taxii.status(status_id, principal))
