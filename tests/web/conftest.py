"""The portal over real HTTP (httpx), on the full server (API + portal)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.portal_support import LivePortal, start_portal


@pytest.fixture(scope="session")
def shared_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    """One server for tests that never move its clock (make your own users)."""
    live = start_portal(tmp_path_factory.mktemp("portal"))
    live.user(name="admin")
    yield live
    live.stop()


@pytest.fixture
def fresh_portal(tmp_path: Path) -> Iterator[LivePortal]:
    """A server of its own, before the first run (no user), whose clock a test may move."""
    live = start_portal(tmp_path / "data")
    yield live
    live.stop()
