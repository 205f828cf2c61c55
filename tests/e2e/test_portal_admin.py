"""Administration and demo data in a real browser: a global administrator manages users,
device groups (with a preview), applications (secret shown once) and reads the audit log; others
are refused; "Load demo data" fills an empty dashboard. Each page is checked for accessibility
basics and saved as a screenshot in test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from iocd.domain.devices import Device
from iocd.domain.principal import Role
from tests.api.api_support import unique
from tests.e2e.a11y import check_accessibility
from tests.e2e.conftest import Screenshot, SignIn
from tests.web.portal_support import LivePortal

PASSWORD = "a long enough password"


def _status(page: Any) -> Any:
    return page.locator(".flash")


def test_admin_manages_users_groups_applications_and_reads_the_audit_log(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    prefix = unique("e2e")
    now = portal.clock.now()
    portal.instance.alerts.record_devices(
        [
            Device(f"{prefix}-{n}", now - timedelta(hours=2), now, f"{prefix}-{kind}-{n}")
            for n, kind in enumerate(("srv", "srv", "srv", "lt"))
        ]
    )
    sign_in(page, "admin")
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")

    # A device group, previewed before it is saved.
    page.get_by_role("link", name="Device groups").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Device groups")
    group = unique("Servers")
    page.get_by_label("Name", exact=True).fill(group)
    page.get_by_label("Device names").fill(f"{prefix}-srv-*")
    page.get_by_label("Rank").fill("1")
    page.get_by_role("button", name="Preview devices").click()
    expect(page.get_by_role("heading", name=re.compile("^Preview"))).to_be_visible()
    expect(page.locator(".preview [role=status]")).to_contain_text("3 of")
    expect(page.locator("tr.hit")).to_have_count(3)
    expect(page.get_by_label("Device names")).to_have_value(f"{prefix}-srv-*")
    screenshot(page, "admin-groups-preview")
    check_accessibility(page)
    page.get_by_role("button", name="Create group").click()
    expect(_status(page)).to_contain_text(f"Device group {group} created at rank 1")

    # A security administrator, and an analyst of that group.
    page.get_by_role("link", name="Users").click()
    secadmin, analyst = unique("sam"), unique("ana")
    for name, role, groups in (
        (secadmin, "SecurityAdministrator", ()),
        (analyst, "Analyst", (group,)),
    ):
        page.get_by_label("User name").fill(name)
        page.get_by_label("Display name").fill(name.title())
        page.get_by_label("Role").select_option(role)
        page.get_by_label("Initial password").fill(PASSWORD)
        for chosen in groups:
            page.get_by_label(chosen).check()
        page.get_by_role("button", name="Create user").click()
        expect(_status(page)).to_contain_text(f"User {name} created ({role})")
    row = page.locator("tr", has=page.get_by_role("link", name=analyst))
    expect(row).to_contain_text("Analyst")
    expect(row).to_contain_text(group)
    screenshot(page, "admin-users")
    check_accessibility(page)

    # A personal API token, shown once.
    page.get_by_role("link", name=analyst).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"User {analyst}")
    page.get_by_role("button", name="Issue a token").click()
    expect(page.get_by_label("Token", exact=True)).to_have_value(re.compile("^iocd_"))
    screenshot(page, "admin-user-token")
    check_accessibility(page)
    page.reload()
    expect(page.get_by_label("Token", exact=True)).to_have_count(0)

    # An application: the secret once, then revoked.
    page.get_by_role("link", name="Applications").click()
    app = unique("sync-tool")
    page.get_by_label("Name", exact=True).fill(app)
    page.get_by_label("Role").select_option("Ti.ReadWrite.All")
    page.get_by_label("Rate limit (requests per minute)").fill("600")
    page.get_by_role("button", name="Create application").click()
    secret = page.get_by_label("Client secret")
    expect(secret).to_have_value(re.compile(r"^\S{20,}$"))
    screenshot(page, "admin-applications-secret")
    check_accessibility(page)
    page.reload()
    expect(page.get_by_label("Client secret")).to_have_count(0)
    app_row = page.locator("tr", has=page.get_by_role("rowheader", name=app))
    expect(app_row).to_contain_text("Active")
    app_row.get_by_role("button", name=f"Revoke {app}").click()
    expect(_status(page)).to_contain_text(f"Application {app} is revoked")
    expect(page.locator("tr", has=page.get_by_role("rowheader", name=app))).to_contain_text(
        "Revoked"
    )

    # The audit log shows all of it, newest first.
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    actions = page.locator("tbody th[scope=row]")
    expect(actions.nth(0)).to_have_text("application revoked")
    expect(actions.nth(1)).to_have_text("application created")
    body = page.locator("tbody")
    for text in ("personal token created", "user created", "device group created", analyst):
        expect(body).to_contain_text(text)
    screenshot(page, "admin-audit")
    check_accessibility(page)
    page.get_by_label("Action contains").fill("user created")
    page.get_by_role("button", name="Filter").click()
    expect(body).not_to_contain_text("application")
    expect(body).to_contain_text(secadmin)


def test_only_global_administrators_see_admin(
    portal: LivePortal, page: Any, sign_in: SignIn
) -> None:
    name, _ = portal.user(Role.SECURITY_ADMINISTRATOR)
    sign_in(page, name)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    for url in ("/admin", "/admin/users", "/admin/applications", "/demo"):
        response = page.goto(portal.base_url + url)
        assert response.status == 403, url
        expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    check_accessibility(page)


def test_load_demo_data_from_the_empty_dashboard(
    fresh_portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    name, password = fresh_portal.user(name="root", display_name="Rita Root")
    sign_in(page, name, password, base=fresh_portal.base_url)
    expect(page.get_by_role("heading", name="Nothing here yet")).to_be_visible()
    page.get_by_role("button", name="Load demo data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("status")).to_contain_text("Demo data loaded: 5 device groups")
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"[1-9][\d,]* alerts raised"))
    expect(page.get_by_role("heading", name="Nothing here yet")).to_have_count(0)
    total = page.locator(".tile .figure").nth(0)
    expect(total).not_to_have_text("0")
    expect(page.locator("svg .bar text.value").first).to_be_visible()  # alerts on the chart
    alerts = page.get_by_role("table", name="Alerts by status and severity")
    expect(alerts.locator("tbody tr").first.locator("td.total")).not_to_have_text("0")
    screenshot(page, "dashboard-demo")
    check_accessibility(page)

    page.goto(fresh_portal.base_url + "/admin/groups/edit?name=Servers")
    page.get_by_role("button", name="Preview devices").click()
    expect(page.locator(".preview [role=status]")).to_contain_text("12 of 50 known devices")
    screenshot(page, "admin-groups-demo-preview")
    check_accessibility(page)
