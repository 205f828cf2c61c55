"""What every API route shares: the caller (from the bearer token), rate limits, JSON bodies."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request

from iocd.api.basic_auth import basic_or_bearer
from iocd.api.errors import ApiError
from iocd.api.ratelimit import RateLimiter
from iocd.compose import Instance
from iocd.domain.accounts import Application
from iocd.domain.agents import DEVICE_PREFIX, AgentDevice
from iocd.domain.principal import Principal, Role
from iocd.errors import Forbidden
from iocd.services.accounts import Unauthorized
from iocd.services.agents import device_principal

MAX_BODY_BYTES = 32 * 1024 * 1024


def instance(request: Request) -> Instance:
    chosen: Instance = request.app.state.instance
    return chosen


def authenticated(request: Request) -> Principal:
    """The authenticated principal; 401 without a valid bearer token, 429 past its rate limit."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an Authorization: Bearer token is required")
    chosen = instance(request)
    if token.strip().startswith(DEVICE_PREFIX):  # an agent: telemetry and agent routes only
        return device_principal(chosen.agents.authenticate_device(token.strip()))
    principal, app = chosen.accounts.authenticate(token.strip(), "PublicApi")
    check_rate(request, app)
    return principal


def check_rate(request: Request, app: Application | None) -> None:
    """429 with Retry-After when an application is past its requests-per-minute limit."""
    if app is None or not app.rate_limit_per_minute:
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.retry_after(app.client_id, app.rate_limit_per_minute)
    if wait is not None:
        raise ApiError(
            429,
            "TooManyRequests",
            f"rate limit of {app.rate_limit_per_minute} requests per minute exceeded",
            headers={"Retry-After": str(wait)},
        )


def caller(request: Request) -> Principal:
    """The caller of every route but telemetry ingest: a telemetry forwarder is refused (403)."""
    principal = authenticated(request)
    if principal.telemetry_only and principal.door == "Agent":
        raise Forbidden("a device credential opens the agent endpoints and telemetry only")
    if principal.telemetry_only:
        raise Forbidden("a telemetry forwarder (Telemetry.Write) may only post telemetry")
    return principal


def device(request: Request) -> AgentDevice:
    """The enrolled device behind an agent request (a device credential as bearer token)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip().startswith(DEVICE_PREFIX):
        raise Unauthorized("a device credential (Authorization: Bearer iocd_dev_...) is required")
    return instance(request).agents.authenticate_device(token.strip())


def telemetry_sender(request: Request) -> Principal:
    """Who may post telemetry: a forwarder application, or an administrator (users or
    organisation-wide applications) sending from a script."""
    principal = authenticated(request)
    if principal.telemetry_only or principal.role in SENDER_ROLES:
        return principal
    raise Forbidden("posting telemetry needs a Telemetry.Write application or an administrator")


def poller(request: Request) -> Principal:
    """The caller of a polled file (outputs for enforcement points): a bearer token as on every
    route, or HTTP Basic, which is all many firewalls and feed readers can send (see
    api.basic_auth)."""
    try:
        principal, app = basic_or_bearer(request, "PublicApi")
    except Unauthorized as error:
        raise ApiError(
            401, "Unauthorized", str(error), headers={"WWW-Authenticate": POLLER_CHALLENGE}
        ) from None
    check_rate(request, app)
    if principal.telemetry_only:
        raise Forbidden("a telemetry forwarder (Telemetry.Write) may only post telemetry")
    return principal


POLLER_CHALLENGE = 'Basic realm="iocd", Bearer'
Poller = Annotated[Principal, Depends(poller)]


SENDER_ROLES = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.SECURITY_ADMINISTRATOR})
Caller = Annotated[Principal, Depends(caller)]
Sender = Annotated[Principal, Depends(telemetry_sender)]
Iocd = Annotated[Instance, Depends(instance)]
Agent = Annotated[AgentDevice, Depends(device)]


async def json_body(request: Request) -> Any:
    """The request body as JSON: 415 unless it says JSON, 413 past the size limit, 400 if broken."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(
            415,
            "InvalidRequestBody",
            f"Content-Type must be application/json, not {media or 'missing'}",
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(
            413,
            "InvalidRequestBody",
            f"the body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(
                413,
                "InvalidRequestBody",
                f"the body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
            )
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "InvalidRequestBody", f"the body is not valid JSON ({exc})") from None


JsonBody = Annotated[Any, Depends(json_body)]
