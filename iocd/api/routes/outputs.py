"""Outputs for enforcement points (docs/outputs.md), served at stable URLs for polling.

Every answer carries an ETag (the change sequence and the request's options) and a
Last-Modified (the time of that change); a poller sending either back gets 304 while nothing
has changed. A body is rendered once per change and set of options into the data directory
(api.output_cache), and every poller of it streams that file. Firewalls that cannot send a
bearer token may use HTTP Basic (deps.poller).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime as http_date
from email.utils import parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from iocd.api.deps import Iocd, Poller
from iocd.api.output_cache import RenderCache
from iocd.codecs.outputs import default_file_name, media_type, render
from iocd.compose import Instance
from iocd.domain.outputs import OutputKind, OutputRequest, catalogue, output_path
from iocd.domain.principal import Principal

router = APIRouter(prefix="/outputs", tags=["outputs"])
CHUNK_BYTES = 1 << 16
FORMAT_VERSION = "1"
"""Part of every ETag: bump it when a renderer's output changes for the same data."""
_CACHE_GUARD = threading.Lock()

Groups = Annotated[
    list[str],
    Query(alias="group", description="A device group whose view this is (repeatable)."),
]
Cap = Annotated[
    int | None,
    Query(ge=0, description="At most this many entries (severity, then recency, then id)."),
]


@router.get("", summary="The outputs and their URLs")
def list_outputs(_: Poller, request: Request) -> dict[str, Any]:
    base = str(request.url).partition("?")[0].removesuffix("/").removesuffix("/outputs")
    return {
        "value": [
            {"kind": kind.value, "name": name, "url": base + output_path(kind, name)}
            for kind, name in catalogue()
        ]
    }


@router.get("/edl/{name}.txt", summary="External dynamic list of one type (firewalls)")
def edl(
    name: str,
    principal: Poller,
    iocd: Iocd,
    request: Request,
    group: Groups = [],  # noqa: B006 (FastAPI reads the default, never mutates it)
    cap: Cap = None,
    comments: bool = Query(False, description="Add a # header and footer."),
) -> Response:
    wanted = OutputRequest(OutputKind.EDL, name, tuple(group), cap)
    return _answer(wanted, principal, iocd, request, comments=comments)


@router.get("/rpz.zone", summary="Response policy zone (BIND, Unbound, PowerDNS)")
def rpz(
    principal: Poller,
    iocd: Iocd,
    request: Request,
    group: Groups = [],  # noqa: B006
    cap: Cap = None,
    ip: bool = Query(False, description="Add rpz-ip triggers for blocked addresses."),
) -> Response:
    wanted = OutputRequest(OutputKind.RPZ, "", tuple(group), cap, rpz_ip=ip)
    return _answer(wanted, principal, iocd, request)


@router.get("/suricata.rules", summary="Suricata rules")
def suricata_rules(
    principal: Poller,
    iocd: Iocd,
    request: Request,
    group: Groups = [],  # noqa: B006
    cap: Cap = None,
    domains: str = Query("rules", description="rules (subdomains too) or dataset (exact)."),
    sid_base: int = Query(1_000_000_000, alias="sidBase", description="The first sid."),
) -> Response:
    wanted = OutputRequest(
        OutputKind.SURICATA, "", tuple(group), cap, suricata_domains=domains, sid_base=sid_base
    )
    return _answer(wanted, principal, iocd, request)


@router.get("/suricata/{name}.lst", summary="A list or dataset the Suricata rules load")
def suricata_list(
    name: str,
    principal: Poller,
    iocd: Iocd,
    request: Request,
    group: Groups = [],  # noqa: B006
    cap: Cap = None,
    domains: str = Query("rules", description="As given for the rules."),
) -> Response:
    wanted = OutputRequest(
        OutputKind.SURICATA_LIST, name, tuple(group), cap, suricata_domains=domains
    )
    return _answer(wanted, principal, iocd, request)


@router.get("/clamav.hsb", summary="ClamAV hash signature database")
def clamav(
    principal: Poller,
    iocd: Iocd,
    request: Request,
    group: Groups = [],  # noqa: B006
    cap: Cap = None,
) -> Response:
    wanted = OutputRequest(OutputKind.CLAMAV, "", tuple(group), cap)
    return _answer(wanted, principal, iocd, request)


def _options(wanted: OutputRequest, comments: bool) -> str:
    """What names the request's options in the ETag (and the cached body)."""
    options = repr((FORMAT_VERSION, wanted, comments)).encode()
    return hashlib.sha256(options).hexdigest()[:16]


def _etag(wanted: OutputRequest, sequence: int, comments: bool) -> str:
    return f'"{sequence}-{_options(wanted, comments)}"'


def _not_modified(request: Request, etag: str, changed_at: datetime | None) -> bool:
    """RFC 9110: If-None-Match decides when present, else If-Modified-Since."""
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since is None or changed_at is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return when.tzinfo is not None and changed_at.replace(microsecond=0) <= when


def _answer(
    wanted: OutputRequest,
    principal: Principal,
    iocd: Instance,
    request: Request,
    *,
    comments: bool = False,
) -> Response:
    service = iocd.outputs
    service.check(wanted, principal)
    sequence, changed_at = service.version()
    etag = _etag(wanted, sequence, comments)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Iocd-Sequence": str(sequence)}
    if changed_at is not None:
        headers["Last-Modified"] = http_date(changed_at, usegmt=True)
    if _not_modified(request, etag, changed_at):
        return Response(status_code=304, headers=headers)
    options = _options(wanted, comments)

    def rendered() -> tuple[dict[str, Any], Iterator[bytes]]:
        selection = service.select(wanted, principal)
        meta = {
            "etag": _etag(wanted, selection.sequence, comments),
            "sequence": selection.sequence,
            "changed_at": None,
            "omitted": selection.omitted_by_cap,
        }
        if selection.changed_at is not None:
            meta["changed_at"] = http_date(selection.changed_at, usegmt=True)
        return meta, _chunks(render(selection, comments=comments))

    cached = _cache(request, iocd).get_or_render(options, etag, rendered)
    meta = cached.meta
    headers["ETag"] = meta["etag"]
    headers["X-Iocd-Sequence"] = str(meta["sequence"])
    if meta["changed_at"] is not None:
        headers["Last-Modified"] = meta["changed_at"]
    headers["X-Iocd-Omitted-By-Cap"] = str(meta["omitted"])
    headers["Content-Disposition"] = f'inline; filename="{default_file_name(wanted)}"'
    return StreamingResponse(cached.chunks(), media_type=media_type(wanted.kind), headers=headers)


def _cache(request: Request, iocd: Instance) -> RenderCache:
    """The app's cache of rendered outputs (made on first use, in the data directory)."""
    state = request.app.state
    with _CACHE_GUARD:
        cache = getattr(state, "output_cache", None)
        if cache is None:
            cache = RenderCache(iocd.settings.data_dir / "cache" / "outputs")
            state.output_cache = cache
    return cache


def _chunks(lines: Iterator[str]) -> Iterator[bytes]:
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()
