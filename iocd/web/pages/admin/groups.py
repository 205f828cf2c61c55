"""Device groups: create, edit rules (shell patterns on device name, domain, tags and OS),
move up and down in rank, delete, and preview which known devices a draft rule set captures
(policy.groups.group_for over every group with the draft in place; nothing is saved).

Group names travel in form fields and query strings (they may hold characters a path
segment cannot)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from iocd.domain.accounts import DeviceGroup, GroupRules
from iocd.domain.devices import Device
from iocd.domain.principal import Principal
from iocd.errors import Conflict, InvalidInput, NotFound
from iocd.policy.groups import DeviceFacts, group_for, rules_match
from iocd.web.deps import AdminUser, instance, redirect, render
from iocd.web.pages.admin.common import Text, rules_from, rules_text

router = APIRouter()
PREVIEW_DEVICES = 1000


def edit_url(name: str) -> str:
    return "/admin/groups/edit?" + urlencode({"name": name})


@dataclass(frozen=True, slots=True)
class PreviewRow:
    device: Device
    now: str
    """The group the device is in with the saved groups."""
    then: str
    """The group it would be in with the draft in place."""
    matched: bool
    """Whether the draft's rules match it (it may still land in a better-ranked group)."""


def preview(
    draft: DeviceGroup, groups: list[DeviceGroup], devices: list[Device]
) -> list[PreviewRow]:
    """Where each device would land with `draft` saved (replacing a group of the same name
    and taking its rank); captured devices first."""
    others = sorted((g for g in groups if g.name != draft.name), key=lambda g: (g.rank, g.name))
    others.insert(min(max(draft.rank, 1), len(others) + 1) - 1, draft)
    ordered = [DeviceGroup(g.name, n, g.rules, g.created_at) for n, g in enumerate(others, 1)]
    rows = []
    for device in devices:
        facts = DeviceFacts(name=device.name or device.device_id, os=device.os or "")
        rows.append(
            PreviewRow(
                device,
                group_for(facts, groups),
                group_for(facts, ordered),
                rules_match(draft.rules, facts),
            )
        )
    rows.sort(key=lambda r: (r.then != draft.name, not r.matched, r.device.name or ""))
    return rows


def _page(request: Request, user: Principal, *, status_code: int = 200, **extra: Any) -> Response:
    accounts = instance(request).accounts
    context: dict[str, Any] = {"form": {}, "error": None, "rows": None, "draft": None}
    context.update(extra)
    return render(
        request,
        "admin/groups.html",
        status_code=status_code,
        nav="admin",
        tab="groups",
        groups=accounts.list_groups(user),
        edit_url=edit_url,
        **context,
    )


def _draft(
    request: Request, user: Principal, name: str, rank: str, rules: GroupRules
) -> tuple[DeviceGroup, list[PreviewRow]]:
    groups = instance(request).accounts.list_groups(user)
    existing = next((g for g in groups if g.name == name), None)
    chosen = int(rank) if rank.strip().isdigit() else None
    if chosen is None:
        chosen = existing.rank if existing else len(groups) + 1
    now = instance(request).clock.now()
    draft = DeviceGroup(name.strip() or "(new group)", chosen, rules, now)
    devices = instance(request).alerts.devices(limit=PREVIEW_DEVICES)
    return draft, preview(draft, groups, devices)


@router.get("/admin/groups")
def groups_page(request: Request, user: AdminUser) -> Response:
    return _page(request, user)


@router.post("/admin/groups")
def create_group(
    request: Request,
    user: AdminUser,
    name: Text = "",
    description: Text = "",
    rank: Text = "",
    names: Text = "",
    domains: Text = "",
    tags: Text = "",
    os: Text = "",
) -> Response:
    rules = rules_from(names, domains, tags, os)
    chosen = int(rank) if rank.strip().isdigit() else None
    try:
        group = instance(request).accounts.create_group(name, chosen, rules, user, description)
    except (InvalidInput, Conflict) as error:
        form = {"name": name, "description": description, "rank": rank, **rules_text(rules)}
        status = 409 if isinstance(error, Conflict) else 400
        return _page(request, user, status_code=status, error=error.message, form=form)
    note = "" if not rules.empty else " It has no rules yet, so it captures no device."
    return redirect(
        "/admin/groups",
        flash=f"Device group {group.name} created at rank {group.rank}.{note}",
        category="success",
    )


@router.post("/admin/groups/preview")
def preview_new(
    request: Request,
    user: AdminUser,
    name: Text = "",
    description: Text = "",
    rank: Text = "",
    names: Text = "",
    domains: Text = "",
    tags: Text = "",
    os: Text = "",
) -> Response:
    rules = rules_from(names, domains, tags, os)
    draft, rows = _draft(request, user, name, rank, rules)
    form = {"name": name, "description": description, "rank": rank, **rules_text(rules)}
    return _page(request, user, form=form, draft=draft, rows=rows)


def _group(request: Request, user: Principal, name: str) -> DeviceGroup:
    groups = instance(request).accounts.list_groups(user)
    found = next((g for g in groups if g.name == name), None)
    if found is None:
        raise NotFound(f"device group {name} not found")
    return found


def _edit_page(request: Request, user: Principal, group: DeviceGroup, **extra: Any) -> Response:
    context: dict[str, Any] = {
        "form": {"description": group.description, **rules_text(group.rules)},
        "rows": None,
        "draft": None,
    }
    context.update(extra)
    return render(request, "admin/group.html", nav="admin", tab="groups", group=group, **context)


@router.get("/admin/groups/edit")
def edit_page(request: Request, user: AdminUser, name: str = "") -> Response:
    return _edit_page(request, user, _group(request, user, name))


@router.post("/admin/groups/edit")
def save_group(
    request: Request,
    user: AdminUser,
    name: Text = "",
    description: Text = "",
    names: Text = "",
    domains: Text = "",
    tags: Text = "",
    os: Text = "",
    preview_only: Text = "",
) -> Response:
    group = _group(request, user, name)
    rules = rules_from(names, domains, tags, os)
    if preview_only:
        draft, rows = _draft(request, user, name, str(group.rank), rules)
        form = {"description": description, **rules_text(rules)}
        return _edit_page(request, user, group, form=form, draft=draft, rows=rows)
    instance(request).accounts.update_group(name, rules, user, description)
    return redirect("/admin/groups", flash=f"Device group {name} saved.", category="success")


@router.post("/admin/groups/rank")
def rank_group(request: Request, user: AdminUser, name: Text = "", rank: Text = "") -> Response:
    if not rank.strip().isdigit():
        raise InvalidInput("rank", "must be a whole number of 1 or more")
    instance(request).accounts.rank_group(name, int(rank), user)
    return redirect("/admin/groups", flash=f"{name} is now at rank {rank}.", category="success")


@router.post("/admin/groups/delete")
def delete_group(request: Request, user: AdminUser, name: Text = "") -> Response:
    instance(request).accounts.delete_group(name, user)
    return redirect(
        "/admin/groups",
        flash=f"Device group {name} deleted; its devices fall to the next matching group.",
        category="success",
    )
