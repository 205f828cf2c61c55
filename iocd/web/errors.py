"""The portal's error pages: one table from iocd errors to HTTP statuses, rendered as HTML."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
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
from iocd.web.csrf import CsrfRejected
from iocd.web.deps import SignInRequired, instance, optional_principal
from iocd.web.rendering import redirect, render

STATUS: list[tuple[type[Exception], int, str]] = [
    (NotFound, 404, "Not found"),
    (Forbidden, 403, "Not allowed"),
    (Conflict, 409, "Conflict"),
    (CapacityExceeded, 507, "The list is full"),
    (GuardrailRefused, 400, "Refused by a guardrail"),
    (InvalidInput, 400, "Invalid input"),
    (IocdError, 400, "Invalid request"),
]
HTTP_TITLES = {404: "Page not found", 405: "Method not allowed", 403: "Not allowed"}


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    optional_principal(request)  # the header shows who is signed in on error pages too
    return render(
        request, "error.html", status_code=status, title=title, message=message, status=status
    )


def install(portal: FastAPI) -> None:
    @portal.exception_handler(SignInRequired)
    async def sign_in(request: Request, error: SignInRequired) -> Response:
        if instance(request).sessions.needs_setup():
            return redirect("/setup")
        return redirect(f"/signin?next={quote(error.next_url, safe='')}")

    @portal.exception_handler(CsrfRejected)
    async def csrf(request: Request, error: CsrfRejected) -> Response:
        return error_page(request, 403, "Request refused", str(error))

    @portal.exception_handler(IocdError)
    async def iocd_error(request: Request, error: IocdError) -> Response:
        status, title = next((s, t) for kind, s, t in STATUS if isinstance(error, kind))
        return error_page(request, status, title, error.message)

    @portal.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in error.errors()
        ]
        return error_page(request, 400, "Invalid request", "; ".join(problems))

    @portal.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        status = error.status_code
        title = HTTP_TITLES.get(status, "Error")
        message = f"There is no page at {request.url.path}." if status == 404 else str(error.detail)
        return error_page(request, status, title, message)
