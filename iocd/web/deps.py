"""What every portal page shares. Page modules import from here:

- `instance(request)` / `Portal`: the Instance (services) behind the portal;
- `current_principal` / `CurrentUser`: the signed-in Principal, from the session cookie; without
  a live session, a redirect to /signin?next=<this page> (to /setup while no user exists);
- `require_role(*roles)`: a dependency giving the principal, or a 403 page for other roles (for
  whole areas such as Admin; finer rules stay in the services, which check every call);
- `render`, `redirect`, `add_flash`, `safe_next` (web.rendering); `csrf_token` (web.csrf);
- `client_address(request)`: the caller's address, for audit and sign-in throttling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from iocd.compose import Instance
from iocd.domain.principal import Principal, Role
from iocd.errors import Forbidden
from iocd.web.csrf import SESSION_COOKIE, csrf_token
from iocd.web.rendering import add_flash, redirect, render, safe_next

__all__ = [
    "CurrentUser",
    "Portal",
    "SignInRequired",
    "add_flash",
    "client_address",
    "csrf_token",
    "current_principal",
    "instance",
    "optional_principal",
    "redirect",
    "render",
    "require_role",
    "safe_next",
]


class SignInRequired(Exception):
    """No live session: the error handler redirects to the sign-in page (or to first run)."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def instance(request: Request) -> Instance:
    chosen: Instance = request.app.state.instance
    return chosen


def optional_principal(request: Request) -> Principal | None:
    """The signed-in principal, or None (pages that anyone may see, such as sign-in)."""
    if hasattr(request.state, "principal"):
        known: Principal | None = request.state.principal
        return known
    token = request.cookies.get(SESSION_COOKIE, "")
    principal = instance(request).sessions.resume(token) if token else None
    request.state.principal = principal
    return principal


def current_principal(request: Request) -> Principal:
    principal = optional_principal(request)
    if principal is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(quote(here, safe="/?=&%:@"))
    return principal


def require_role(*roles: Role) -> Callable[[Request], Principal]:
    """A dependency: the signed-in principal if its role is one of `roles`, else 403."""
    allowed = frozenset(roles)

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"this page is for {names} only")
        return principal

    return dependency


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


Portal = Annotated[Instance, Depends(instance)]
CurrentUser = Annotated[Principal, Depends(current_principal)]
AdminUser = Annotated[Principal, Depends(require_role(Role.GLOBAL_ADMINISTRATOR))]
