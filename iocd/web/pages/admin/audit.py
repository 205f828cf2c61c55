"""The audit log: every change and refusal, newest first, a page at a time (keyset on the
entry id: `before` is the last id of the previous page), filtered by actor or action."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from iocd.domain.history import AuditEntry
from iocd.web.deps import AdminUser, instance, render

router = APIRouter()
PAGE_SIZE = 50


def describe(entry: AuditEntry) -> str:
    """The entry's details in one line: `field: value` (or `before → after`) pairs."""
    parts = []
    for key, value in entry.changes.items():
        if isinstance(value, list) and len(value) == 2 and not key.endswith("Groups"):
            text = f"{_short(value[0])} → {_short(value[1])}"
        else:
            text = _short(value)
        parts.append(f"{key}: {text}")
    return "; ".join(parts)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


@router.get("/admin/audit")
def audit_page(
    request: Request,
    user: AdminUser,
    actor: str = "",
    action: str = "",
    before: int | None = None,
) -> Response:
    entries, has_more = instance(request).accounts.audit_log(
        user, PAGE_SIZE, before, actor[:200], action[:200]
    )
    filters = [(k, v) for k, v in (("actor", actor), ("action", action)) if v]
    next_url = None
    if has_more and entries and entries[-1].id is not None:
        next_url = "/admin/audit?" + urlencode([*filters, ("before", str(entries[-1].id))])
    first_url = ("/admin/audit?" + urlencode(filters)) if before is not None else None
    return render(
        request,
        "admin/audit.html",
        nav="admin",
        tab="audit",
        entries=[(e, describe(e)) for e in entries],
        actor=actor,
        action=action,
        next_url=next_url,
        first_url=first_url,
    )
