"""The portal's foundation in a real browser: first run, sign-in and out, CSRF, the dashboard,
search, and what an analyst sees. Each page is checked for accessibility basics and saved as
a screenshot in test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from playwright.sync_api import expect

from iocd.domain.alerts import AlertStatus
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.principal import Role
from iocd.domain.types import Action, IndicatorType, Severity
from tests.alert_factories import make_alert
from tests.api.api_support import ADMIN
from tests.e2e.a11y import check_accessibility
from tests.e2e.conftest import Screenshot, SignIn
from tests.factories import make_fields, value_for
from tests.web.portal_support import LivePortal

PASSWORD = "a long enough password"


def test_first_run_creates_the_administrator(
    fresh_portal: LivePortal, page: Any, screenshot: Screenshot
) -> None:
    page.goto(fresh_portal.base_url + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to iocd")
    screenshot(page, "first-run")
    check_accessibility(page)
    page.get_by_label("User name").fill("root")
    page.get_by_label("Display name").fill("Root Admin")
    page.get_by_label("Password", exact=True).fill("too short")
    page.get_by_label("Password again").fill("too short")
    page.get_by_label("Password", exact=True).evaluate("el => el.removeAttribute('minlength')")
    page.get_by_label("Password again").evaluate("el => el.removeAttribute('minlength')")
    page.get_by_role("button", name=re.compile("Create the administrator")).click()
    expect(page.get_by_role("alert")).to_contain_text("at least 12 characters")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Create the administrator")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_role("status")).to_contain_text("you are the global administrator")
    expect(page.locator(".account")).to_contain_text("Root Admin")
    expect(page.get_by_role("heading", name="Nothing here yet")).to_be_visible()
    screenshot(page, "dashboard-empty")
    check_accessibility(page)
    page.goto(fresh_portal.base_url + "/setup")  # the first run happens once
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    page.context.clear_cookies()
    page.goto(fresh_portal.base_url + "/setup")
    expect(page).to_have_url(re.compile(r"/signin$"))


def test_sign_in_refuses_a_wrong_password_then_signs_in_and_out(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    name, _ = portal.user(Role.SECURITY_ADMINISTRATOR, display_name="Sam Secadmin")
    page.goto(portal.base_url + "/")
    expect(page).to_have_url(re.compile(r"/signin\?next=%2F$"))
    screenshot(page, "sign-in")
    check_accessibility(page)
    sign_in(page, name, "not the password at all")
    expect(page.get_by_role("alert")).to_contain_text("not right")
    expect(page.get_by_label("User name")).to_have_value(name)
    sign_in(page, name)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.locator(".account")).to_contain_text("Sam Secadmin")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)  # global admins only
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_role("status")).to_contain_text("signed out")
    page.goto(portal.base_url + "/")
    expect(page).to_have_url(re.compile(r"/signin"))


def test_csrf_rejection(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    name, _ = portal.user(Role.READ_ONLY)
    sign_in(page, name)
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    form = page.locator("form[action='/signout']")
    form.locator("input[name=csrf_token]").evaluate("el => el.value = 'forged'")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request refused")
    expect(page.locator("main")).to_contain_text("security token is wrong")
    screenshot(page, "csrf-refused")
    check_accessibility(page)
    page.goto(portal.base_url + "/")
    page.locator("form[action='/signout'] input[name=csrf_token]").evaluate("el => el.remove()")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("main")).to_contain_text("security token is missing")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    response = httpx.post(
        portal.base_url + "/signout", cookies=cookies, data={"csrf_token": "0" * 64}
    )
    assert response.status_code == 403
    page.goto(portal.base_url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")  # still signed in


def _submit(portal: LivePortal, n: int, kind: IndicatorType, action: Action, **fields: Any) -> None:
    draft = IndicatorDraft(make_fields(n, kind, action=action, **fields))
    portal.instance.indicators.submit(draft, ADMIN.via("Portal"))


def test_dashboard_counts_and_an_analyst_sees_only_their_groups(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot, browser: Any
) -> None:
    ours, theirs = portal.group(), portal.group()
    base = 7_000_000
    _submit(portal, base + 1, IndicatorType.FILE_SHA256, Action.BLOCK_AND_REMEDIATE)
    _submit(
        portal,
        base + 2,
        IndicatorType.IP_ADDRESS,
        Action.BLOCK,
        rbac_group_names=(ours,),
        value="198.51.100.77",
    )
    _submit(
        portal,
        base + 3,
        IndicatorType.DOMAIN_NAME,
        Action.AUDIT,
        rbac_group_names=(theirs,),
        generate_alert=True,
        expiration_time=portal.clock.now() + timedelta(days=2),
    )
    now = portal.clock.now()
    with portal.instance.store.alerts() as tx:
        first = tx.allocate_ids(3)
        tx.insert(
            [
                make_alert(first, created_at=now, rbac_group_name=ours),
                make_alert(first + 1, created_at=now - timedelta(days=2), rbac_group_name=theirs),
                make_alert(
                    first + 2,
                    created_at=now,
                    rbac_group_name=theirs,
                    status=AlertStatus.RESOLVED,
                    severity=Severity.LOW,
                ),
            ]
        )
    admin = portal.instance.dashboard.summary(ADMIN)
    sign_in(page, "admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    tiles = page.locator(".tile .figure")
    expect(tiles.nth(0)).to_have_text(f"{admin.active_total:,}")
    expect(
        page.get_by_role("link", name=re.compile("expiring in the next 7 days"))
    ).to_have_attribute("href", "/indicators?expires=7d")
    expect(page.locator("svg[role=img] title").first).to_have_text(
        "Alerts raised per day over the last 14 days"
    )
    expect(page.locator("svg .bar")).to_have_count(14)
    expect(page.get_by_role("link", name="Admin")).to_have_count(
        1 if "admin" in portal.instance_areas() else 0
    )
    expect(page.locator("main")).to_contain_text("No agents enrolled")
    screenshot(page, "dashboard")
    check_accessibility(page)

    analyst, _ = portal.user(Role.ANALYST, groups=(ours,))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    other = context.new_page()
    try:
        sign_in(other, analyst)
        expect(other.get_by_role("heading", level=1)).to_have_text("Dashboard")
        figures = other.locator(".tile .figure")
        expect(figures.nth(0)).to_have_text("1")  # the IP indicator of their group only
        expect(figures.nth(1)).to_have_text("0")  # the expiring domain is another group's
        ip_row = other.get_by_role("row", name=re.compile("^IP address"))
        expect(ip_row.locator("td.total")).to_have_text("1")
        status_new = other.get_by_role("row", name=re.compile("^New"))
        expect(status_new.locator("td.total")).to_have_text("1")
        expect(
            other.get_by_role("row", name=re.compile("^Resolved")).locator("td.total")
        ).to_have_text("0")
        screenshot(other, "dashboard-analyst")
        check_accessibility(other)
    finally:
        context.close()


def test_search_opens_entity_pages(portal: LivePortal, page: Any, sign_in: SignIn) -> None:
    name, _ = portal.user(Role.READ_ONLY)
    sign_in(page, name)
    sha = value_for(IndicatorType.FILE_SHA256, 99).upper()
    cases = [
        (sha, "/files/" + sha.lower()),
        ("d41d8cd98f00b204e9800998ecf8427e", "/files/d41d8cd98f00b204e9800998ecf8427e"),
        ("203.0.113.7", "/ips/203.0.113.7"),
        ("2001:DB8::1", "/ips/2001:db8::1"),
        ("Evil.Example.COM", "/domains/evil.example.com"),
        (
            "https://Evil.example.com:443/a/../b?x=1#frag",
            "/urls?u=https%3A%2F%2Fevil.example.com%2Fb%3Fx%3D1",
        ),
    ]
    box = page.get_by_label("Search a file hash, IP address, domain or URL")
    for query, target in cases:
        box.fill(query)
        box.press("Enter")
        page.wait_for_url(re.compile(re.escape(target) + "$"))
    page.get_by_label("Search a file hash, IP address, domain or URL").fill("not a thing!")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "is not a file hash, IP address, domain or URL"
    )
    check_accessibility(page)
    page.keyboard.press("Escape")
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(box).to_be_focused()
