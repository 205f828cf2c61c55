"""Administration and demo data over plain HTTP: users, device groups and their preview,
applications with a secret shown once, the audit log, and who may do any of it."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from iocd.domain.devices import Device
from iocd.domain.principal import Role
from tests.api.api_support import ADMIN, unique
from tests.web.portal_support import LivePortal, csrf_of

ADMIN_PAGES = ("/admin/users", "/admin/groups", "/admin/applications", "/admin/audit", "/demo")


@pytest.fixture
def admin(shared_portal: LivePortal) -> httpx.Client:
    client = shared_portal.client()
    shared_portal.sign_in(client, "admin")
    return client


def post(client: httpx.Client, url: str, data: dict[str, object] | None = None) -> httpx.Response:
    token = csrf_of(client.get("/admin/users"))
    return client.post(url, data={**(data or {}), "csrf_token": token})


@pytest.mark.parametrize("role", [Role.SECURITY_ADMINISTRATOR, Role.ANALYST, Role.READ_ONLY])
def test_only_global_administrators_reach_admin(shared_portal: LivePortal, role: Role) -> None:
    name, _ = shared_portal.user(role)
    client = shared_portal.client()
    shared_portal.sign_in(client, name)
    assert 'href="/admin"' not in client.get("/").text
    for url in ADMIN_PAGES:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Not allowed" in response.text
    token = csrf_of(client.get("/"))
    refused = client.post(
        "/admin/users", data={"name": "x", "role": "Analyst", "csrf_token": token}
    )
    assert refused.status_code == 403
    assert client.post("/demo", data={"csrf_token": token}).status_code == 403


def test_admin_link_and_redirect(admin: httpx.Client) -> None:
    assert 'href="/admin"' in admin.get("/").text
    response = admin.get("/admin")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/users"


def test_posts_need_the_csrf_token(admin: httpx.Client) -> None:
    response = admin.post("/admin/users", data={"name": unique("u"), "role": "Analyst"})
    assert response.status_code == 403


def test_create_user_change_role_token_and_disable(
    shared_portal: LivePortal, admin: httpx.Client
) -> None:
    group = shared_portal.group()
    name = unique("ana")
    created = post(
        admin,
        "/admin/users",
        {
            "name": name,
            "display_name": "Ann Analyst",
            "role": "Analyst",
            "password": "a long enough password",
            "device_groups": [group],
        },
    )
    assert created.status_code == 303
    page = admin.get("/admin/users").text
    assert name in page
    assert "Ann Analyst" in page
    assert f"User {name} created" in page
    other = shared_portal.client()
    shared_portal.sign_in(other, name, "a long enough password")
    again = post(admin, "/admin/users", {"name": name, "role": "Analyst"})
    assert again.status_code == 409
    assert "exists" in again.text
    short = post(admin, "/admin/users", {"name": unique("u"), "role": "Analyst", "password": "x"})
    assert short.status_code == 400
    assert "at least 12 characters" in short.text

    url = f"/admin/users/{name}"
    assert post(admin, f"{url}/role", {"role": "ReadOnly"}).status_code == 303
    assert "is now ReadOnly" in admin.get(url).text
    issued = post(admin, f"{url}/token", {"token_name": "script"})
    assert issued.status_code == 303
    shown = admin.get(issued.headers["location"]).text
    token = re.search(r'id="token-value"[^>]*value="([^"]+)"', shown)
    assert token
    assert token.group(1).startswith("iocd_")
    assert token.group(1) not in admin.get(issued.headers["location"]).text  # shown once
    api = httpx.get(
        shared_portal.base_url + "/api/indicators",
        headers={"Authorization": f"Bearer {token.group(1)}"},
    )
    assert api.status_code == 200
    assert post(admin, f"{url}/disable").status_code == 303
    assert other.get("/").status_code == 303  # signed out
    assert "Disabled" in admin.get(url).text


def test_groups_create_preview_rank_edit_delete(
    shared_portal: LivePortal, admin: httpx.Client
) -> None:
    now = shared_portal.clock.now()
    prefix = unique("pv")
    shared_portal.instance.alerts.record_devices(
        [
            Device(f"{prefix}-id{n}", now - timedelta(hours=1), now, f"{prefix}-{kind}-{n}")
            for n, kind in enumerate(("srv", "srv", "lt"))
        ]
    )
    name = unique("Servers")
    form = {"name": name, "names": f"{prefix}-srv-*", "rank": "1"}
    preview = post(admin, "/admin/groups/preview", form)
    assert preview.status_code == 200
    assert "2 of" in preview.text
    assert f"{prefix}-srv-0" in preview.text
    assert name not in admin.get("/admin/groups").text  # a preview saves nothing
    assert post(admin, "/admin/groups", form).status_code == 303
    groups = shared_portal.instance.accounts.list_groups(ADMIN)
    assert next(g for g in groups if g.name == name).rank == 1
    second = unique("Laptops")
    assert (
        post(admin, "/admin/groups", {"name": second, "names": f"{prefix}-lt-*"}).status_code == 303
    )
    assert post(admin, "/admin/groups/rank", {"name": second, "rank": "1"}).status_code == 303
    groups = shared_portal.instance.accounts.list_groups(ADMIN)
    assert [g.name for g in groups][:2] == [second, name]
    edit = admin.get("/admin/groups/edit", params={"name": name})
    assert edit.status_code == 200
    moved = post(
        admin,
        "/admin/groups/edit",
        {"name": name, "names": f"{prefix}-srv-1", "preview_only": "1"},
    )
    assert moved.status_code == 200
    assert "moves" in moved.text
    saved = post(admin, "/admin/groups/edit", {"name": name, "names": f"{prefix}-*, web-*"})
    assert saved.status_code == 303
    groups = shared_portal.instance.accounts.list_groups(ADMIN)
    assert next(g for g in groups if g.name == name).rules.names == (f"{prefix}-*", "web-*")
    assert post(admin, "/admin/groups/delete", {"name": second}).status_code == 303
    assert post(admin, "/admin/groups/delete", {"name": second}).status_code == 404


def test_application_secret_is_shown_once_then_revoked(
    shared_portal: LivePortal, admin: httpx.Client
) -> None:
    name = unique("sync")
    created = post(
        admin,
        "/admin/applications",
        {"name": name, "role": "Ti.ReadWrite.All", "rate_limit": "120"},
    )
    assert created.status_code == 303
    location = created.headers["location"]
    assert parse_qs(urlsplit(location).query)["shown"]
    page = admin.get(location).text
    secret = re.search(r'id="client-secret"[^>]*value="([^"]+)"', page)
    client_id = re.search(r'id="client-id"[^>]*value="([^"]+)"', page)
    assert secret
    assert client_id
    assert secret.group(1) not in admin.get(location).text  # a reload shows it no more
    assert "120/min" in admin.get("/admin/applications").text
    tenant = shared_portal.instance.accounts.tenant_id()
    token_form = {
        "client_id": client_id.group(1),
        "client_secret": secret.group(1),
        "grant_type": "client_credentials",
        "scope": "x",
    }
    token_url = f"{shared_portal.base_url}/{tenant}/oauth2/v2.0/token"
    assert httpx.post(token_url, data=token_form).status_code == 200
    bad = post(admin, "/admin/applications", {"name": unique("a"), "rate_limit": "many"})
    assert bad.status_code == 400
    revoked = post(admin, "/admin/applications/revoke", {"client_id": client_id.group(1)})
    assert revoked.status_code == 303
    assert "Revoked" in admin.get("/admin/applications").text
    assert httpx.post(token_url, data=token_form).status_code == 401


def test_audit_log_pages_and_filters(shared_portal: LivePortal, admin: httpx.Client) -> None:
    for _ in range(3):
        post(admin, "/admin/applications", {"name": unique("aud"), "role": "Ti.ReadWrite"})
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    assert "application created" in page.text
    only = admin.get("/admin/audit", params={"action": "application created"}).text
    assert "user created" not in only
    assert admin.get("/admin/audit", params={"actor": "nobody-at-all"}).text.count("<tr>") == 2
    while True:  # page back to the oldest entry
        older = re.search(r'href="(/admin/audit\?[^"]*before=\d+)" rel="next"', page.text)
        if not older:
            break
        page = admin.get(older.group(1).replace("&amp;", "&"))
        assert page.status_code == 200


def test_demo_loads_once_then_asks_for_confirmation(fresh_portal: LivePortal) -> None:
    name, _ = fresh_portal.user(name="root")
    client = fresh_portal.client()
    fresh_portal.sign_in(client, name)
    assert "Load demo data" in client.get("/").text
    assert client.get("/demo").status_code == 200
    loaded = client.post("/demo", data={"csrf_token": csrf_of(client.get("/demo"))})
    assert loaded.status_code == 303
    assert loaded.headers["location"] == "/"
    dashboard = client.get("/").text
    assert "Demo data loaded" in dashboard
    assert "Nothing here yet" not in dashboard
    assert fresh_portal.instance.indicators.active_count() > 1000
    again = client.post("/demo", data={"csrf_token": csrf_of(client.get("/demo"))})
    assert again.headers["location"] == "/demo"
    assert "confirm" in client.get("/demo").text
