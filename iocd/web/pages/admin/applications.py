"""Applications (OAuth2 clients of the API): create with a role and an optional rate limit,
show the client secret once (after the redirect; a reload shows it no more), revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from iocd.domain.accounts import AppRole, parse_app_role
from iocd.domain.principal import Principal
from iocd.errors import InvalidInput
from iocd.web.deps import AdminUser, instance, redirect, render
from iocd.web.pages.admin.common import Text, shown_once

router = APIRouter()
ROLE_HELP = {
    AppRole.READ_WRITE: "sees and changes only the indicators it created",
    AppRole.READ_WRITE_ALL: "sees and changes every indicator",
    AppRole.TELEMETRY_WRITE: "may post telemetry and nothing else",
}


def _page(
    request: Request,
    user: Principal,
    *,
    status_code: int = 200,
    created: dict[str, str] | None = None,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    accounts = instance(request).accounts
    base = f"{request.url.scheme}://{request.url.netloc}"
    return render(
        request,
        "admin/applications.html",
        status_code=status_code,
        nav="admin",
        tab="applications",
        applications=sorted(
            accounts.list_applications(user), key=lambda a: (not a.active, a.name.casefold())
        ),
        roles=list(AppRole),
        role_help=ROLE_HELP,
        created=created,
        token_url=f"{base}/{accounts.tenant_id()}/oauth2/v2.0/token",
        error=error,
        form=form or {"role": AppRole.READ_WRITE.value},
    )


@router.get("/admin/applications")
def applications_page(request: Request, user: AdminUser, shown: str | None = None) -> Response:
    return _page(request, user, created=shown_once(request).take(shown, user.name))


@router.post("/admin/applications")
def create_application(
    request: Request, user: AdminUser, name: Text = "", role: Text = "", rate_limit: Text = ""
) -> Response:
    try:
        limit = int(rate_limit) if rate_limit.strip() else None
    except ValueError:
        limit = -1
    try:
        if limit == -1:
            raise InvalidInput("rateLimit", "must be a whole number of requests per minute")
        app, secret = instance(request).accounts.register_application(
            name, parse_app_role(role), user, limit
        )
    except InvalidInput as error:
        form = {"name": name, "role": role, "rate_limit": rate_limit}
        return _page(request, user, status_code=400, error=error.message, form=form)
    key = shown_once(request).put(
        user.name,
        {"name": app.name, "client_id": app.client_id, "secret": secret, "role": app.role.value},
    )
    return redirect(f"/admin/applications?shown={key}", status_code=303)


@router.post("/admin/applications/revoke")
def revoke_application(request: Request, user: AdminUser, client_id: Text = "") -> Response:
    app = instance(request).accounts.revoke_application(client_id, user)
    return redirect(
        "/admin/applications",
        flash=f"Application {app.name} is revoked: its tokens stop working at once.",
        category="success",
    )
