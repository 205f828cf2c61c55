"""`POST /api/indicators/import/file`: a whole file (CSV, plain list, STIX 2.1, MISP) as the body
(iocd extension).

The body is the file itself, not JSON around it (`curl --data-binary @intel.json`), optionally
gzip-compressed (`Content-Encoding: gzip` or `Content-Type: application/gzip`). It is spooled to
a temporary file (at most MAX_FILE_BYTES once decompressed: 413 past it), then read by the reader
`codecs.import_formats` chooses, as `iocd indicators import` and the portal's import page do,
and stored in committed chunks. The answer gives the counts and the result of each item (line
or item number, outcome, type and value or reason), the first MAX_LISTED_ITEMS of them.
"""

from __future__ import annotations

import tempfile
import zlib
from typing import IO, Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from iocd.api.deps import Caller, Iocd
from iocd.api.errors import ApiError
from iocd.codecs.import_formats import (
    FORMAT_NAMES,
    SNIFF_BYTES,
    ImportFormat,
    ImportOptions,
    choose_reader,
    detect_format,
    parse_format,
)
from iocd.codecs.rows import as_parsed_rows
from iocd.compose import Instance
from iocd.domain.principal import Principal
from iocd.services.imports import import_rows, report_to_wire

router = APIRouter(tags=["indicators"])

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest file taken over HTTP, once decompressed; `iocd indicators import` takes any size."""
MAX_LISTED_ITEMS = 100_000
SPOOL_BYTES = 1 << 20
"""Bodies up to this size stay in memory; larger ones go to a temporary file."""
_GZIP_TYPES = frozenset({"application/gzip", "application/x-gzip"})
_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


@router.post(
    "/indicators/import/file",
    summary="Import a file: CSV, plain list, STIX 2.1 bundle or MISP event (iocd extension)",
    description="The body is the file (text/csv, text/plain, application/json, "
    "application/stix+json; gzip allowed). Answers the counts and each item's result: "
    "`{rows, created, updated, unchanged, failed, skipped, items: [{item, outcome, "
    "indicatorType, indicatorValue, id, reason}], itemsTruncated}`. Items are CSV and list "
    "lines, positions in a STIX bundle's objects, or MISP attributes, numbered from 1.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("text/csv", "text/plain", "application/json", "application/gzip")
            },
        }
    },
)
async def import_file(
    request: Request,
    principal: Caller,
    iocd: Iocd,
    file_format: Annotated[
        str, Query(alias="format", description=f"One of {', '.join(FORMAT_NAMES)}.")
    ] = "auto",
    action: Annotated[str, Query(description="Lists, STIX, MISP.")] = "Audit",
    severity: Annotated[str | None, Query(description="Lists, STIX, MISP.")] = None,
    expires: Annotated[
        str | None, Query(description="Lists, STIX, MISP: ISO-8601 or a duration (30d).")
    ] = None,
    group: Annotated[list[str] | None, Query(description="Device group (repeat).")] = None,
    indicator_type: Annotated[
        str | None, Query(alias="type", description="Lists: force a type.")
    ] = None,
    title: Annotated[str | None, Query(description="Lists: the title.")] = None,
    description: Annotated[str | None, Query(description="Lists.")] = None,
    include_non_ids: Annotated[
        bool, Query(alias="includeNonIds", description="MISP: attributes with to_ids off too.")
    ] = False,
    override_justification: Annotated[
        str | None,
        Query(alias="overrideJustification", description="Override guardrails for every item."),
    ] = None,
) -> dict[str, Any]:
    named = parse_format(file_format)
    options = ImportOptions(
        action=action,
        severity=severity,
        expires=expires,
        groups=tuple(group or ()),
        indicator_type=indicator_type,
        title=title or "Imported through the API",
        description=description,
        include_non_ids=include_non_ids,
    )
    importer = principal.via("Import")
    if named is not None:  # refused before the body is read
        iocd.indicators.check_import(importer, options.groups_for(named))
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
        await _receive(request, body)
        return await run_in_threadpool(
            _import, iocd, importer, body, named, options, override_justification
        )


def _import(
    iocd: Instance,
    importer: Principal,
    body: IO[bytes],
    named: ImportFormat | None,
    options: ImportOptions,
    override_justification: str | None,
) -> dict[str, Any]:
    if named is None:
        named = detect_format(body.read(SNIFF_BYTES))
        body.seek(0)
        iocd.indicators.check_import(importer, options.groups_for(named))
    reader = choose_reader(
        named,
        options,
        source_name="the API",
        now=iocd.clock.now(),
        known_benign=iocd.reference.reason,
    )
    report = import_rows(
        iocd.indicators,
        as_parsed_rows(reader(cast(BinaryIO, body))),
        importer,
        chunk_size=iocd.settings.import_chunk_size,
        override_justification=override_justification,
        keep_items=MAX_LISTED_ITEMS,
    )
    return report_to_wire(report)


async def _receive(request: Request, spool: IO[bytes]) -> None:
    """Write the body, decompressed if gzip, to `spool`, and rewind it."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in _FORM_TYPES:
        raise ApiError(
            415,
            "InvalidRequestBody",
            f"send the file itself as the body (curl --data-binary @FILE), not {media}",
        )
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise ApiError(415, "InvalidRequestBody", f"Content-Encoding {encoding} is not supported")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FILE_BYTES:
        raise _too_large()
    gzipped = media in _GZIP_TYPES or encoding in ("gzip", "x-gzip")
    inflater = zlib.decompressobj(wbits=31) if gzipped else None
    size = 0
    async for chunk in request.stream():
        data = chunk
        if inflater is not None:
            try:
                data = inflater.decompress(chunk, MAX_FILE_BYTES + 1 - size)
            except zlib.error as exc:
                raise ApiError(
                    400, "InvalidRequestBody", f"the body is not valid gzip ({exc})"
                ) from None
            if inflater.unconsumed_tail:  # more output than the limit allows
                raise _too_large()
        size += len(data)
        if size > MAX_FILE_BYTES:
            raise _too_large()
        spool.write(data)
    if inflater is not None and not inflater.eof:
        raise ApiError(400, "InvalidRequestBody", "the gzip body is truncated")
    if size == 0:
        raise ApiError(400, "InvalidRequestBody", "the body is empty: send the file")
    spool.seek(0)


def _too_large() -> ApiError:
    return ApiError(
        413,
        "InvalidRequestBody",
        f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB (decompressed); "
        "split it, or import it with `iocd indicators import FILE`",
    )
