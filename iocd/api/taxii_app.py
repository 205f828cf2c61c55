"""The TAXII 2.1 door, mounted at `/taxii2/` by `create_app`.

It is an application of its own so that everything under `/taxii2/` answers the TAXII way,
errors included (an unknown path, a wrong method, a missing credential): the TAXII media type
and the TAXII error message, where the rest of the API answers MDE-shaped JSON. Statuses come
from the one table in api.errors.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iocd.api.basic_auth import BasicTokens
from iocd.api.errors import ApiError, status_of
from iocd.api.ratelimit import RateLimiter
from iocd.api.routes import taxii
from iocd.api.taxii_wire import TAXII_MEDIA_TYPE, error_resource
from iocd.codecs.stix_ids import StixIdDirectory
from iocd.compose import Instance
from iocd.errors import IocdError
from iocd.services.accounts import Unauthorized
from iocd.services.taxii import TaxiiService

log = logging.getLogger("iocd.taxii")
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request entity too large",
    415: "Unsupported media type",
    422: "Unprocessable entity",
    429: "Too many requests",
    500: "Internal server error",
    507: "Insufficient storage",
}
CHALLENGE = 'Basic realm="iocd TAXII", Bearer'


class TaxiiResponse(JSONResponse):
    media_type = TAXII_MEDIA_TYPE


class TaxiiMediaType:
    """Says the TAXII media type on the answers that would otherwise say none (the redirect
    that adds a missing trailing slash): every answer under /taxii2/ names it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-type" not in headers:
                    headers["content-type"] = TAXII_MEDIA_TYPE
            await send(message)

        await self.app(scope, receive, stamped)


def install_taxii(app: FastAPI, instance: Instance, rate_limiter: RateLimiter) -> None:
    """Mount the TAXII door at /taxii2/ on the API (and send /taxii2 there)."""
    app.mount("/taxii2", create_taxii_app(instance, rate_limiter))

    @app.get("/taxii2", include_in_schema=False)
    def taxii_discovery_slash() -> RedirectResponse:
        return RedirectResponse(
            "/taxii2/", status_code=307, headers={"content-type": TAXII_MEDIA_TYPE}
        )


def taxii_error(
    status: int, description: str, headers: dict[str, str] | None = None
) -> TaxiiResponse:
    title = TITLES.get(status, "Error")
    return TaxiiResponse(
        error_resource(status, title, description), status_code=status, headers=headers
    )


def create_taxii_app(instance: Instance, rate_limiter: RateLimiter) -> FastAPI:
    app = FastAPI(
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        default_response_class=TaxiiResponse,
    )
    app.add_middleware(TaxiiMediaType)
    app.state.instance = instance
    app.state.rate_limiter = rate_limiter
    app.state.basic_tokens = BasicTokens()
    app.state.taxii = TaxiiService(
        instance.store, instance.indicators, instance.clock, StixIdDirectory()
    )
    _install_errors(app)
    app.include_router(taxii.router)
    return app


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(IocdError)
    async def iocd_error(_: Request, error: IocdError) -> TaxiiResponse:
        return taxii_error(status_of(error), error.message)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> TaxiiResponse:
        return taxii_error(error.status, error.message, error.headers)

    @app.exception_handler(Unauthorized)
    async def unauthorized(_: Request, error: Unauthorized) -> TaxiiResponse:
        return taxii_error(401, str(error), {"WWW-Authenticate": CHALLENGE})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> TaxiiResponse:
        first: dict[str, Any] = error.errors()[0] if error.errors() else {}
        return taxii_error(400, str(first.get("msg", "invalid request")))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> TaxiiResponse:
        return taxii_error(error.status_code, str(error.detail), dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> TaxiiResponse:
        log.exception("TAXII request failed", exc_info=error)
        return taxii_error(500, "the server failed to answer; see its log")
