"""Helpers for the Indicators area's HTTP tests: a signed-in security administrator, seeded
indicators, and posting a form with the page's CSRF token."""

from __future__ import annotations

from typing import Any

import httpx

from iocd.domain.indicator import IndicatorDraft
from iocd.domain.principal import Principal, Role
from iocd.domain.types import Action, IndicatorType
from tests.factories import make_fields
from tests.web.portal_support import LivePortal, csrf_of


def signed_in_admin(portal: LivePortal) -> tuple[httpx.Client, str]:
    name, _ = portal.user(Role.SECURITY_ADMINISTRATOR)
    client = portal.client()
    portal.sign_in(client, name)
    return client, name


def seed(portal: LivePortal, owner: str, start: int, count: int, **fields: Any) -> list[int]:
    kind = fields.pop("indicator_type", IndicatorType.FILE_SHA256)
    principal = Principal(owner, Role.SECURITY_ADMINISTRATOR, "Portal")
    drafts = [
        IndicatorDraft(
            make_fields(start + n, kind, action=Action.AUDIT, generate_alert=True, **fields)
        )
        for n in range(count)
    ]
    results = portal.instance.indicators.import_batch(drafts, principal)
    return [r.indicator.id for r in results if r.indicator is not None]


def post_form(client: httpx.Client, url: str, data: dict[str, Any], **kw: Any) -> httpx.Response:
    token = csrf_of(client.get(url if not url.endswith("/delete") else "/indicators"))
    return client.post(url, data={**data, "csrf_token": token}, **kw)
