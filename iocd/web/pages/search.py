"""The search box of every page: a hash, IP address, domain or URL opens its entity page.

`/search?q=` detects the type (domain.values.detect_type), puts the value in canonical form and
redirects: hashes to /files/{hash}, certificate thumbprints to /certificates/{thumbprint},
addresses and CIDR blocks to /ips/{ip} (a block's '/' percent-encoded), domains to
/domains/{domain}, URLs to /urls?u={url}. The entity pages themselves are pages/entities.py.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from iocd.domain.types import IndicatorType
from iocd.domain.values import detect_type, normalise
from iocd.errors import InvalidInput
from iocd.web.deps import CurrentUser, redirect, render

router = APIRouter()
MAX_QUERY = 8192


def entity_url(indicator_type: IndicatorType, value: str) -> str:
    """The entity page of a canonical value."""
    if indicator_type.is_file_hash:
        return f"/files/{value}"
    if indicator_type is IndicatorType.CERTIFICATE_THUMBPRINT:
        return f"/certificates/{value}"
    if indicator_type is IndicatorType.IP_ADDRESS:
        return f"/ips/{quote(value, safe=':.')}"
    if indicator_type is IndicatorType.DOMAIN_NAME:
        return f"/domains/{quote(value, safe='.-')}"
    return "/urls?" + urlencode({"u": value})


@router.get("/search")
def search(request: Request, user: CurrentUser, q: str = "") -> Response:
    text = q.strip()
    if not text:
        return render(request, "search.html", nav="search", error=None)
    try:
        if len(text) > MAX_QUERY:
            raise InvalidInput("q", f"is longer than {MAX_QUERY} characters")
        kind = detect_type(text)
        value = normalise(kind, text)
    except InvalidInput as error:
        message = f"{text[:200]!r} is not a file hash, IP address, domain or URL ({error.reason})."
        return render(request, "search.html", status_code=400, nav="search", error=message)
    return redirect(entity_url(kind, value), status_code=303)
