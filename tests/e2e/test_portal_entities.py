"""Entity pages and alerts in a real browser: open a file from the search box and block it
from its page, the domain and device pages, the alerts queue's filters and paging, triage on
the alert page, and an analyst kept to their device groups. Every page is checked for
accessibility basics and saved as a screenshot."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from iocd.domain.alerts import AlertStatus
from iocd.domain.principal import Role
from iocd.domain.types import Severity
from tests.alert_factories import make_alert
from tests.e2e.a11y import check_accessibility
from tests.e2e.conftest import Screenshot, SignIn
from tests.web.entity_support import World, build_world
from tests.web.portal_support import LivePortal

SEARCH = "Search a file hash, IP address, domain or URL"


def test_block_a_file_from_its_entity_page(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    world = build_world(portal)
    sign_in(page, "admin")
    box = page.get_by_label(SEARCH)
    box.fill(world.sha256.upper())
    box.press("Enter")
    page.wait_for_url(re.compile(f"/files/{world.sha256}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.sha256)
    main = page.locator("#decision-main")
    expect(main.locator(".badge").first).to_have_text("No enforcement")
    expect(page.locator("main")).to_contain_text("invoice.exe")
    expect(
        page.get_by_role("link", name=f"Indicator {world.file_indicator.id}", exact=True)
    ).to_be_visible()
    screenshot(page, "entity-file")
    check_accessibility(page)

    block = page.get_by_role("link", name="Block", exact=True)
    href = block.get_attribute("href")
    assert href is not None and "action=Block" in href and "type=FileSha256" in href
    assert f"value={world.sha256}" in href
    block.click()
    page.wait_for_url(re.compile(r"/indicators/new\?"))
    expect(page.get_by_label("Value", exact=True)).to_have_value(world.sha256)
    page.get_by_role("button", name="Next").first.click()
    expect(page.get_by_label("Action", exact=True)).to_have_value("Block")
    expect(page.get_by_label("Title", exact=True)).to_have_value(f"Block file {world.sha256}")
    for step in (2, 3, 4):
        page.locator(f"fieldset[data-step='{step}']").get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Save indicator").click()
    page.wait_for_url(re.compile(r"/indicators/\d+$"))
    new_id = int(page.url.rsplit("/", 1)[1])

    page.goto(f"{portal.base_url}/files/{world.sha256}")
    expect(page.locator("#decision-main .badge").first).to_have_text("Block")
    expect(page.locator("#decision-main")).to_contain_text(f"indicator {new_id}")
    expect(page.locator(".existing")).to_contain_text(f"indicator {new_id} (Block)")
    expect(page.locator(".existing a")).to_have_attribute("href", f"/indicators/{new_id}")
    screenshot(page, "entity-file-blocked")


def test_domain_ip_and_device_pages(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    world = build_world(portal)
    sign_in(page, "admin")
    page.get_by_label(SEARCH).fill(world.domain)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(f"/domains/{re.escape(world.domain)}$"))
    expect(page.locator("main")).to_contain_text(f"x0.{world.domain}")
    expect(page.locator(".existing")).to_contain_text(f"indicator {world.domain_indicator.id}")
    page.locator("summary", has_text="precedence trace").first.click()
    expect(page.locator(".trace").first).to_contain_text(
        f"alert: indicator {world.domain_indicator.id} DomainName {world.domain} Audit"
    )
    screenshot(page, "entity-domain")
    check_accessibility(page)
    page.get_by_role("link", name=world.ip).first.click()
    page.wait_for_url(re.compile(f"/ips/{re.escape(world.ip)}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.ip)
    screenshot(page, "entity-ip")
    check_accessibility(page)
    page.get_by_role("link", name=world.device_a).first.click()
    page.wait_for_url(re.compile(f"/devices/{world.device_a}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(world.device_a)
    expect(page.locator(".facts")).to_contain_text(world.group_a)
    expect(page.locator("main")).to_contain_text("invoice.exe")
    screenshot(page, "entity-device")
    check_accessibility(page)


def _seed_alerts(portal: LivePortal, group: str, count: int) -> list[int]:
    now = portal.clock.now()
    severities = (Severity.LOW, Severity.HIGH, Severity.MEDIUM)
    with portal.instance.store.alerts() as tx:
        first = tx.allocate_ids(count)
        tx.insert(
            [
                make_alert(
                    first + n,
                    title=f"Queue alert {n}",
                    rbac_group_name=group,
                    machine_id=f"{group}-dev",
                    computer_dns_name=f"{group}-dev",
                    severity=severities[n % 3],
                    last_event_time=now - timedelta(minutes=n),
                    created_at=now - timedelta(minutes=n),
                )
                for n in range(count)
            ]
        )
    return list(range(first, first + count))


def test_alerts_queue_filters_and_paging(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    device = "queue-e2e-dev"
    ids = _seed_alerts(portal, "queue-e2e", 90)
    sign_in(page, "admin")
    page.get_by_role("link", name="Alerts", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    page.get_by_label("Device").fill(device)
    page.get_by_label("Severity").select_option("High")
    page.get_by_role("button", name="Apply filters").click()
    rows = page.locator("#alerts-table tbody tr")
    expect(rows).to_have_count(30)
    expect(rows.first).to_contain_text(f"{ids[1]}: Queue alert 1")
    page.get_by_label("Severity").select_option("")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(50)
    screenshot(page, "alerts-queue")
    check_accessibility(page)
    page.get_by_role("link", name="Next").click()
    expect(rows).to_have_count(40)
    expect(rows.first).to_contain_text(f"{ids[50]}: Queue alert 50")
    page.get_by_role("link", name="Severity").click()  # ascending: Low first
    expect(rows.first.locator(".badge").first).to_have_text("Low")
    page.get_by_role("link", name="Severity").click()  # descending: High first
    expect(rows.first.locator(".badge").first).to_have_text("High")
    expect(rows.nth(29).locator(".badge").first).to_have_text("High")
    expect(rows.nth(30).locator(".badge").first).to_have_text("Medium")


def test_alert_page_triage(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot
) -> None:
    world = build_world(portal)
    sign_in(page, "admin")
    page.goto(
        f"{portal.base_url}/alerts?device={world.device_a}&indicator={world.file_indicator.id}"
    )
    page.locator("#alerts-table tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/alerts/\d+$"))
    expect(page.locator(".facts")).to_contain_text(world.device_a)
    expect(page.get_by_role("link", name=re.compile(r"^Indicator \d+$"))).to_be_visible()
    page.get_by_label("Status").select_option("InProgress")
    page.get_by_label("Classification").select_option("TruePositive")
    page.get_by_label("Determination").select_option("Malware")
    page.get_by_label("Assigned to").fill("pat@example.com")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Alert updated")
    expect(page.locator(".badges")).to_contain_text("InProgress")
    expect(page.locator(".badges")).to_contain_text("TruePositive")
    page.get_by_label("Add a comment").fill("Checked the download: it is the phishing payload.")
    page.get_by_role("button", name="Add comment").click()
    expect(page.locator(".comments")).to_contain_text("phishing payload")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_label("Assigned to")).to_have_value("admin")
    screenshot(page, "alert-page")
    check_accessibility(page)
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".badges")).to_contain_text("Resolved")
    page.get_by_role("link", name=world.sha256).click()
    page.wait_for_url(re.compile(f"/files/{world.sha256}$"))


def test_an_analyst_cannot_open_another_groups_alert_or_device(
    portal: LivePortal, page: Any, sign_in: SignIn
) -> None:
    world: World = build_world(portal)
    mine = portal.instance.alerts.list(_admin(portal), _by_device(world.device_a)).items[0]
    theirs = portal.instance.alerts.list(_admin(portal), _by_device(world.device_b)).items[0]
    assert theirs.status is AlertStatus.NEW
    analyst, _ = portal.user(Role.ANALYST, groups=(world.group_a,))
    sign_in(page, analyst)
    assert page.goto(f"{portal.base_url}/alerts/{mine.id}").status == 200
    response = page.goto(f"{portal.base_url}/alerts/{theirs.id}")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    check_accessibility(page)
    assert page.goto(f"{portal.base_url}/devices/{world.device_a}").status == 200
    assert page.goto(f"{portal.base_url}/devices/{world.device_b}").status == 403
    page.goto(f"{portal.base_url}/files/{world.sha256}")
    expect(page.locator("main")).to_contain_text(world.device_a)
    expect(page.locator("main")).not_to_contain_text(world.device_b)


def _admin(portal: LivePortal) -> Any:
    from tests.api.api_support import ADMIN

    return ADMIN


def _by_device(device: str) -> Any:
    from iocd.domain.alerts import AlertQuery
    from iocd.domain.query import Compare, Op

    return AlertQuery(where=Compare("machineId", Op.EQ, device))
