"""CSRF protection for every unsafe request to the portal, and the portal's cookies.

The token of a page is an HMAC of the browser's secret cookie: the session token once signed in,
else an anonymous random cookie set when a form is first rendered (so the sign-in and first-run
forms are protected too). Nothing is stored server-side, the token changes with each session,
and a token cannot be computed without the HttpOnly cookie. `csrf_guard` runs on every route of
every page module (web.install adds it): a POST, PUT, PATCH or DELETE must carry the token in
the form field `csrf_token` or the `X-CSRF-Token` header, compared in constant time, and an
`Origin` header, when sent, must name this host. Otherwise: `CsrfRejected` (a 403 page).

Cookies are HttpOnly and SameSite=Lax: Lax keeps a link into the portal from a ticket or a chat
signed in (Strict would show the sign-in page for it), while a cross-site form POST carries no
cookie at all. They are Secure whenever the request came over https.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

SESSION_COOKIE = "iocd_session"
ANONYMOUS_COOKIE = "iocd_anon"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_PURPOSE = b"iocd portal csrf v1"


class CsrfRejected(Exception):
    """An unsafe request without the page's CSRF token (or from another origin)."""


def _token_of(secret: str) -> str:
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def _cookie_secret(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANONYMOUS_COOKIE)


def csrf_token(request: Request) -> str:
    """The token forms of this page must send back. Without any cookie yet, an anonymous secret
    is made and remembered on the request (`render` sets its cookie on the response)."""
    secret = getattr(request.state, "csrf_secret", None) or _cookie_secret(request)
    if secret is None:
        secret = secrets.token_urlsafe(32)
        request.state.new_anonymous_secret = secret
    request.state.csrf_secret = secret
    return _token_of(secret)


async def csrf_guard(request: Request) -> None:
    """Refuse an unsafe request that lacks the right token; safe methods pass untouched."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise CsrfRejected(f"the request came from another site ({origin})")
    secret = _cookie_secret(request)
    supplied = request.headers.get(HEADER)
    if supplied is None:
        form = await request.form()
        value = form.get(FIELD)
        supplied = value if isinstance(value, str) else None
    if secret is None or not supplied:
        raise CsrfRejected("the form's security token is missing; reload the page and retry")
    if not hmac.compare_digest(supplied.encode(), _token_of(secret).encode()):
        raise CsrfRejected("the form's security token is wrong; reload the page and retry")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(ANONYMOUS_COOKIE, path="/")


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request)
    )


def set_anonymous_cookie(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        ANONYMOUS_COOKIE,
        secret,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
