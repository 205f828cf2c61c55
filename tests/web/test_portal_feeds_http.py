"""The feeds pages over HTTP: list, add form, run now, history, and read-only users kept out of
writes."""

from __future__ import annotations

import time
from pathlib import Path

from iocd.domain.principal import Role
from tests.web.portal_support import LivePortal, csrf_of


def test_feed_pages(fresh_portal: LivePortal, tmp_path: Path) -> None:
    portal = fresh_portal
    feed = tmp_path / "list.txt"
    feed.write_text("# test\n45.2.0.1\n45.2.0.2\nnot valid!\n")
    name, _ = portal.user(Role.SECURITY_ADMINISTRATOR)
    client = portal.client()
    portal.sign_in(client, name)

    page = client.get("/feeds")
    assert page.status_code == 200 and "No feeds yet" in page.text and 'href="/feeds"' in page.text
    form = {
        "name": "portal-list",
        "url": str(feed),
        "kind": "list",
        "action": "Block",
        "expires_days": "30",
        "interval": "600",
        "csrf_token": csrf_of(page),
    }
    bad = client.post("/feeds", data={**form, "kind": "csv"})
    assert bad.status_code == 400 and "value column" in bad.text
    added = client.post("/feeds", data=form, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == "/feeds/portal-list"
    detail = client.get("/feeds/portal-list")
    assert "Feed:portal-list" in detail.text and "No runs yet" in detail.text

    ran = client.post("/feeds/portal-list/run", data={"csrf_token": csrf_of(detail)})
    assert ran.status_code == 303
    for _ in range(100):
        detail = client.get("/feeds/portal-list")
        if "No runs yet" not in detail.text:
            break
        time.sleep(0.1)
    assert "outcome-ok" in detail.text and "not valid!" in detail.text
    listed = client.get("/feeds")
    assert "portal-list" in listed.text and "2 added" in listed.text

    reader, _ = portal.user(Role.READ_ONLY)
    other = portal.client()
    portal.sign_in(other, reader)
    seen = other.get("/feeds")
    assert "portal-list" in seen.text and "Add a feed" not in seen.text
    refused = other.post("/feeds/portal-list/run", data={"csrf_token": csrf_of(seen)})
    assert refused.status_code == 403
    removed = client.post(
        "/feeds/portal-list/remove",
        data={"csrf_token": csrf_of(client.get("/feeds")), "withdraw": "1"},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert portal.instance.indicators.active_count() == 0
