"""The portal: server-rendered pages (Jinja2) over the same services as the API.

`install(app, instance)` mounts the portal on an app (iocd.server does it on the API app): a
FastAPI sub-application at `/` that answers every path the API does not own (`/api`, `/docs`,
`/openapi.json`, `/health`, the token endpoints), with its own HTML error pages, its templates
(web/templates) and its assets at `/static` (web/static; nothing from a CDN).

Pages live in web/pages/, one module per area. A module takes part by being named in
`PAGE_MODULES` and defining `router = APIRouter()`; a name whose module does not exist yet is
skipped, so each area's author adds a file and nothing else. To add an area:

1. write `iocd/web/pages/<area>.py` with `router = APIRouter()` and its routes (plain forms:
   GET pages, POST forms that answer with a redirect, `deps.redirect(url, flash=...)`);
2. take the signed-in principal with `deps.CurrentUser` (or `deps.require_role(...)`) and call
   the services on `deps.instance(request)`: they check roles and device groups;
3. render with `deps.render(request, "<area>/page.html", nav="<area>", **context)`; templates
   extend "base.html" and put their content in `{% block content %}`, with one <h1>;
4. every POST is checked for the CSRF token by `install` itself (no need to add anything): put
   `{{ csrf_field() }}` in each form, or send the `X-CSRF-Token` header from scripts.

Installed areas are in `request.app.state.areas` (templates: `areas`); the navigation shows an
area's link only when its module is there, and the dashboard shows "Load demo data" only when
the `demo` area is.
"""

from __future__ import annotations

import importlib
import importlib.util

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from iocd.compose import Instance
from iocd.web import errors, rendering
from iocd.web.csrf import csrf_guard
from iocd.web.mount import PortalMount, SecurityHeaders

PAGE_MODULES = (
    "auth",
    "dashboard",
    "search",
    "indicators",
    "entities",
    "alerts",
    "investigations",
    "feeds",
    "admin",
    "demo",
)
"""Areas in the order their routes are tried; the first route that matches a path wins."""


def create_portal(instance: Instance) -> FastAPI:
    """The portal as an app of its own (no OpenAPI document: pages are not an API)."""
    portal = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    portal.state.instance = instance
    portal.state.templates = rendering.templates()
    portal.state.areas = frozenset()
    portal.add_middleware(SecurityHeaders)
    errors.install(portal)
    portal.mount("/static", StaticFiles(directory=rendering.STATIC_DIR), name="static")
    areas = []
    for name in PAGE_MODULES:
        module_name = f"{__name__}.pages.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        portal.include_router(module.router, dependencies=[Depends(csrf_guard)])
        areas.append(name)
    portal.state.areas = frozenset(areas)
    return portal


def install(app: FastAPI, instance: Instance) -> None:
    """Mount the portal on `app` for every path the app's own routes leave to it."""
    app.router.routes.append(PortalMount(create_portal(instance)))
