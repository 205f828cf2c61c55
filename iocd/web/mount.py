"""How the portal sits beside the API in one app: a mount at `/` that steps aside for the API's
paths (so an unknown /api path still gets the API's JSON 404), and the headers every portal
response carries."""

from __future__ import annotations

from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIXES = ("/api", "/docs", "/openapi.json", "/health", "/static/swagger-ui")
"""Paths the API owns; OAuth2 token endpoints are recognised by their `/oauth2/` segment."""

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


def api_owns(path: str) -> bool:
    if "/oauth2/" in path:
        return True
    return any(path == p or path.startswith(p + "/") for p in API_PREFIXES)


class PortalMount(Mount):
    """`Mount("/", portal)` that never matches a path the API owns."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__("/", app=app, name="portal")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and api_owns(scope.get("path", "")):
            return Match.NONE, {}
        return super().matches(scope)


class SecurityHeaders:
    """Adds a strict Content-Security-Policy and friends; pages are never cached (they show
    one user's data), static assets are."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
