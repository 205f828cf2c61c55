"""The one table that maps iocd errors to HTTP statuses and MDE-shaped error bodies.

Body: {"error": {"code": ..., "message": ..., "target": ...}}; `target` names the offending field
when there is one, else a request id. Every response here says Content-Type: application/json.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from iocd.errors import (
    CapacityExceeded,
    Conflict,
    Forbidden,
    GuardrailRefused,
    InvalidInput,
    IocdError,
    NotFound,
)
from iocd.services.accounts import Unauthorized

STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (CapacityExceeded, 507),
    (GuardrailRefused, 400),
    (InvalidInput, 400),
    (IocdError, 400),
]
HTTP_CODES = {
    400: "InvalidRequestBody",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
    507: "InsufficientStorage",
}


class ApiError(Exception):
    """An error the door raises itself (bad body, wrong media type, rate limit...)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        target: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.target, self.headers = target, headers or {}


def error_response(
    status: int,
    code: str,
    message: str,
    target: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "error": {"code": code, "message": message, "target": target or str(uuid.uuid4())}
    }
    return JSONResponse(body, status_code=status, headers=headers)


def status_of(error: IocdError) -> int:
    return next(status for kind, status in STATUS if isinstance(error, kind))


def install(app: FastAPI) -> None:
    @app.exception_handler(IocdError)
    async def iocd_error(_: Request, error: IocdError) -> JSONResponse:
        target = error.field if isinstance(error, InvalidInput) else None
        code = error.code if isinstance(error, InvalidInput) else _code(error)
        return error_response(status_of(error), code, error.message, target)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.target, error.headers)

    @app.exception_handler(Unauthorized)
    async def unauthorized(_: Request, error: Unauthorized) -> JSONResponse:
        return error_response(401, "Unauthorized", str(error), None, {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return error_response(400, "InvalidRequestBody", message, where or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(error.status_code, "InvalidInput")
        return error_response(
            error.status_code, code, str(error.detail), None, dict(error.headers or {})
        )


def _code(error: IocdError) -> str:
    if isinstance(error, NotFound):
        return "NotFound"
    if isinstance(error, Forbidden):
        return "Forbidden"
    return "InvalidInput"
