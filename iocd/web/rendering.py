"""Rendering pages: the templates, `render` (adds what every page needs), redirects and flash
messages (a short-lived cookie, shown once on the next page rendered)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from iocd import __version__
from iocd.domain.principal import Role
from iocd.web.csrf import FIELD, csrf_token, set_anonymous_cookie

HERE = Path(__file__).parent
TEMPLATES_DIR = str(HERE / "templates")
STATIC_DIR = str(HERE / "static")
FLASH_COOKIE = "iocd_flash"
CATEGORIES = ("info", "success", "warning", "error")
MAX_FLASHES = 5
ROLE_LABELS = {
    Role.GLOBAL_ADMINISTRATOR: "Global administrator",
    Role.SECURITY_ADMINISTRATOR: "Security administrator",
    Role.ANALYST: "Analyst",
    Role.READ_ONLY: "Read-only",
}


def templates() -> Jinja2Templates:
    chosen = Jinja2Templates(directory=TEMPLATES_DIR)
    env = chosen.env
    env.globals["asset"] = lambda name: f"/static/{name}?v={__version__}"
    env.globals["version"] = __version__
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.filters["role_label"] = lambda role: ROLE_LABELS.get(role, str(role))
    return chosen


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    nav: str | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page: `template` with `context`, plus `user` (the signed-in Principal or None),
    `is_admin`, `csrf_token`/`csrf_field()`, `flashes` [(category, message)], `nav` (the area to
    highlight), `areas` (installed page modules) and `q` (the search box's text)."""
    token = csrf_token(request)
    principal = getattr(request.state, "principal", None)
    flashes = _read_flashes(request)
    field = Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token)
    full = {
        "user": principal,
        "is_admin": principal is not None and principal.role is Role.GLOBAL_ADMINISTRATOR,
        "csrf_token": token,
        "csrf_field": lambda: field,
        "flashes": flashes,
        "nav": nav,
        "areas": request.app.state.areas,
        "q": request.query_params.get("q", "") if nav == "search" else "",
        **context,
    }
    chosen: Jinja2Templates = request.app.state.templates
    response = chosen.TemplateResponse(
        request, template, full, status_code=status_code, headers=headers
    )
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path="/")
    new_secret = getattr(request.state, "new_anonymous_secret", None)
    if new_secret is not None:
        set_anonymous_cookie(request, response, new_secret)
    return response


def redirect(
    url: str, *, flash: str | None = None, category: str = "info", status_code: int = 303
) -> RedirectResponse:
    """303 See Other to `url` (after a POST the browser GETs it), with an optional message."""
    response = RedirectResponse(url, status_code=status_code)
    if flash:
        add_flash(response, flash, category)
    return response


def add_flash(response: Response, message: str, category: str = "info") -> None:
    """Show `message` on the next page rendered (categories: info, success, warning, error)."""
    if category not in CATEGORIES:
        raise ValueError(f"flash category must be one of {CATEGORIES}")
    value = quote(json.dumps([[category, message[:500]]]), safe="")
    response.set_cookie(FLASH_COOKIE, value, max_age=120, path="/", httponly=True, samesite="lax")


def _read_flashes(request: Request) -> list[tuple[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        items = json.loads(unquote(raw))
        return [
            (str(c), str(m))
            for c, m in items[:MAX_FLASHES]
            if c in CATEGORIES and isinstance(m, str)
        ]
    except (ValueError, TypeError):
        return []


def safe_next(url: str | None, default: str = "/") -> str:
    """A local path to go to after sign-in; anything that could leave the site is `default`."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url
