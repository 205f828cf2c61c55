"""The investigations pages over HTTP: list, detail with steps and tasks, the alert page's link,
and analysts limited to their device groups."""

from __future__ import annotations

from iocd.domain.principal import Role
from iocd.domain.verdicts import parse_verdict
from tests.api.api_support import ADMIN
from tests.web.portal_support import LivePortal


def test_investigation_pages(fresh_portal: LivePortal) -> None:
    portal = fresh_portal
    body = {
        "detector": "ScannerX",
        "verdict": "Malicious",
        "deviceId": "dev-portal",
        "deviceName": "portal-host",
        "entityType": "Domain",
        "domain": "Evil.Example",
    }
    iocd = portal.instance
    item = iocd.investigations.submit_verdict(ADMIN, parse_verdict(body, iocd.clock.now()))
    name, _ = portal.user(Role.SECURITY_ADMINISTRATOR)
    client = portal.client()
    portal.sign_in(client, name)

    listed = client.get("/investigations")
    assert listed.status_code == 200, listed.text
    assert f'href="/investigations/{item.id}"' in listed.text
    page = client.get(f"/investigations/{item.id}")
    assert page.status_code == 200
    assert "ScannerX" in page.text and "NoListVerdict" in page.text
    assert "entities gathered" in page.text and "domain evil.example" in page.text
    alert = client.get(f"/alerts/{item.alert_id}")
    assert f'href="/alerts/{item.alert_id}/investigation"' in alert.text
    linked = client.get(f"/alerts/{item.alert_id}/investigation", follow_redirects=False)
    assert linked.headers["location"] == f"/investigations/{item.id}"
    assert client.get("/investigations?status=Running").text.count("/investigations/") <= 1

    analyst, _ = portal.user(Role.ANALYST, groups=(portal.group(),))
    other = portal.client()
    portal.sign_in(other, analyst)
    assert f'href="/investigations/{item.id}"' not in other.get("/investigations").text
    assert other.get(f"/investigations/{item.id}").status_code == 403
