"""The Feeds page in a real browser: an administrator adds a blocklist feed, runs it now, reads
the run in the history and finds the feed's indicators in the list; a bad source fails the run
with its reason and changes nothing. The pages are checked for accessibility basics and saved as
screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.api.api_support import unique
from tests.e2e.a11y import check_accessibility
from tests.e2e.conftest import Screenshot, SignIn
from tests.web.portal_support import LivePortal


def _blocklist(folder: Path, values: list[str]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "blocklist.txt"
    path.write_text("# a partner's blocklist\n" + "\n".join(values) + "\n", encoding="utf-8")
    return path.as_uri()


def test_an_administrator_adds_and_runs_a_blocklist_feed(
    portal: LivePortal, page: Any, sign_in: SignIn, screenshot: Screenshot, tmp_path: Path
) -> None:
    name = unique("e2e-feed").replace("_", "-")
    url = _blocklist(tmp_path, ["45.140.10.1", "45.140.10.2", "bad.feed-e2e.example"])
    sign_in(page, "admin")
    page.get_by_role("link", name="Feeds").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Feeds")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("URL", exact=True).fill(url)
    page.get_by_label("Action", exact=True).select_option("Block")
    page.get_by_label("Severity").select_option("High")
    page.get_by_label("Expires after (days)").fill("7")
    screenshot(page, "feeds-add")
    check_accessibility(page)
    page.get_by_role("button", name="Add feed").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Feed {name}")
    page.get_by_role("button", name="Run now").click()
    runs = page.locator("table").filter(has_text="fetched").last
    expect(runs).to_contain_text("ok")
    expect(runs.locator("tbody tr").first).to_contain_text("3")
    screenshot(page, "feed-detail")
    check_accessibility(page)

    page.goto(f"{portal.base_url}/indicators?search=45.140.10")
    expect(page.locator("table.data tbody")).to_contain_text("45.140.10.1")
    expect(page.locator("table.data tbody")).to_contain_text(f"Feed {name}")


def test_a_feed_whose_source_is_gone_fails_with_its_reason(
    page: Any, sign_in: SignIn, portal: LivePortal, tmp_path: Path
) -> None:
    name = unique("e2e-gone").replace("_", "-")
    sign_in(page, "admin")
    page.goto(f"{portal.base_url}/feeds")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("URL", exact=True).fill((tmp_path / "missing.txt").as_uri())
    page.get_by_role("button", name="Add feed").click()
    page.get_by_role("button", name="Run now").click()
    expect(page.locator("body")).to_contain_text(re.compile("failed"))
    expect(page.locator("body")).to_contain_text("missing.txt")
