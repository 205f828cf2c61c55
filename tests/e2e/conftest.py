"""Browser tests: the full server (API + portal) in a thread, driven by Playwright's sync API
through Debian's Chromium (/usr/bin/chromium; no browser is ever downloaded).

Without /usr/bin/chromium (or the playwright package) every test here is skipped with the
reason, unless IOCD_REQUIRE_SERVICES=1, when they fail instead (.ci/run installs Chromium).

Fixtures:
- `portal`: one server for the session, over an in-memory instance, with a global
  administrator signed up (`portal_admin`: (name, password)); `portal.user(role, groups)` makes
  other users, `portal.group()` device groups, `portal.instance` reaches the services.
- `fresh_portal`: a server of its own with no user yet (first run).
- `browser`: one Chromium for the session; `page`: a fresh context (no cookies) per test.
- `sign_in(page, name, password=None)`: signs in through the form.
- `screenshot(page, name)`: saves test-artifacts/screenshots/<name>.png.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services_required import require_or_skip
from tests.web.portal_support import LivePortal, start_portal

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

SignIn = Callable[..., None]
Screenshot = Callable[[Any, str], Path]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        require_or_skip(
            f"{CHROMIUM} is missing: apt-get install chromium (the browser tests use it)"
        )
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        require_or_skip("the playwright package is missing: pip install -e '.[test]'")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    expect.set_options(timeout=30_000)  # assertions wait as long as a loaded CI machine needs
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    live = start_portal(tmp_path_factory.mktemp("portal"))
    live.user(name="admin", display_name="Ada Admin")
    yield live
    live.stop()


@pytest.fixture(scope="session")
def portal_admin(portal: LivePortal) -> tuple[str, str]:
    return "admin", portal.passwords["admin"]


@pytest.fixture
def fresh_portal(tmp_path: Path) -> Iterator[LivePortal]:
    live = start_portal(tmp_path / "data")
    yield live
    live.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # Generous: CI shares two cores with every other test server's background loop.
    context.set_default_timeout(45_000)
    context.set_default_navigation_timeout(45_000)
    chosen = context.new_page()
    yield chosen
    context.close()


@pytest.fixture
def sign_in(portal: LivePortal) -> SignIn:
    def run(page: Any, name: str, password: str | None = None, base: str | None = None) -> None:
        page.goto(f"{base or portal.base_url}/signin")
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(password or portal.passwords[name])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()

    return run


@pytest.fixture
def screenshot() -> Screenshot:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
