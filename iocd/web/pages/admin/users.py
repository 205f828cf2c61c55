"""Users: list, create (role, display name, device groups, initial password), change role
and groups, disable, and issue a personal API token (shown once)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from iocd.domain.accounts import User, parse_role
from iocd.domain.principal import Principal, Role
from iocd.errors import Conflict, InvalidInput, NotFound
from iocd.web.deps import AdminUser, instance, redirect, render
from iocd.web.pages.admin.common import Choices, Text, shown_once

router = APIRouter()


def user_url(name: str) -> str:
    return f"/admin/users/{quote(name, safe='@')}"


def _page(
    request: Request,
    user: Principal,
    *,
    status_code: int = 200,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    accounts = instance(request).accounts
    return render(
        request,
        "admin/users.html",
        status_code=status_code,
        nav="admin",
        tab="users",
        users=accounts.list_users(user),
        groups=[g.name for g in accounts.list_groups(user)],
        roles=list(Role),
        error=error,
        form=form or {"role": Role.ANALYST.value, "device_groups": []},
        user_url=user_url,
    )


@router.get("/admin/users")
def users_page(request: Request, user: AdminUser) -> Response:
    return _page(request, user)


@router.post("/admin/users")
def create_user(
    request: Request,
    user: AdminUser,
    name: Text = "",
    display_name: Text = "",
    role: Text = "",
    password: Text = "",
    device_groups: Choices = None,
) -> Response:
    chosen_groups = device_groups or []
    try:
        created = instance(request).accounts.create_user(
            name,
            parse_role(role),
            user,
            device_groups=chosen_groups,
            password=password or None,
            display_name=display_name,
        )
    except (InvalidInput, Conflict) as error:
        form: dict[str, Any] = {"name": name, "display_name": display_name, "role": role}
        form["device_groups"] = chosen_groups
        status = 409 if isinstance(error, Conflict) else 400
        return _page(request, user, status_code=status, error=error.message, form=form)
    message = f"User {created.name} created ({created.role.value})."
    if created.password_hash is None:
        message += " Without a password they can use a personal API token only."
    return redirect("/admin/users", flash=message, category="success")


def _find(request: Request, user: Principal, name: str) -> User:
    found = next((u for u in instance(request).accounts.list_users(user) if u.name == name), None)
    if found is None:
        raise NotFound(f"user {name} not found")
    return found


@router.get("/admin/users/{name}")
def user_page(request: Request, user: AdminUser, name: str, shown: str | None = None) -> Response:
    target = _find(request, user, name)
    token = shown_once(request).take(shown, user.name)
    return render(
        request,
        "admin/user.html",
        nav="admin",
        tab="users",
        target=target,
        roles=list(Role),
        groups=[g.name for g in instance(request).accounts.list_groups(user)],
        token=token,
        user_url=user_url,
        error=None,
    )


@router.post("/admin/users/{name}/role")
def set_role(
    request: Request, user: AdminUser, name: str, role: Text = "", device_groups: Choices = None
) -> Response:
    changed = instance(request).accounts.set_role(name, parse_role(role), user, device_groups or [])
    groups = ", ".join(changed.device_groups) or "none"
    return redirect(
        user_url(name),
        flash=f"{changed.name} is now {changed.role.value} (device groups: {groups}).",
        category="success",
    )


@router.post("/admin/users/{name}/disable")
def disable(request: Request, user: AdminUser, name: str) -> Response:
    if name == user.name:
        return redirect(user_url(name), flash="You cannot disable yourself.", category="error")
    instance(request).accounts.disable_user(name, user)
    return redirect("/admin/users", flash=f"{name} is disabled and signed out.", category="success")


@router.post("/admin/users/{name}/token")
def issue_token(request: Request, user: AdminUser, name: str, token_name: Text = "") -> Response:
    token, text = instance(request).accounts.create_personal_token(
        name, token_name or "portal", user
    )
    key = shown_once(request).put(user.name, {"token": text, "name": token.name})
    return redirect(f"{user_url(name)}?shown={key}", status_code=303)
