"""Who is calling the TAXII door: HTTP Basic, which most TAXII clients (OpenCTI, MISP,
taxii2-client) send on every request, or a bearer token (see api.basic_auth).
"""

from __future__ import annotations

from fastapi import Request

from iocd.api.basic_auth import basic_or_bearer
from iocd.api.deps import check_rate
from iocd.domain.principal import Principal
from iocd.errors import Forbidden

DOOR = "Taxii"
"""`createdBySource` and the audit log's door for what comes through TAXII."""


def taxii_caller(request: Request) -> Principal:
    """The caller; 401 without valid credentials, 403 for a telemetry or device credential,
    429 past an application's rate limit."""
    principal, app = basic_or_bearer(request, DOOR)
    if principal.telemetry_only:
        raise Forbidden("a telemetry forwarder (Telemetry.Write) may only post telemetry")
    check_rate(request, app)
    return principal
