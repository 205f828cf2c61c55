"""Fixtures of the feed tests: an instance (in memory or SQLite) with a fixed clock, a feed
server over a temporary folder, and the shared real-world samples."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iocd.clock import FixedClock
from iocd.compose import Instance, build
from iocd.config import Settings
from tests.feeds.feed_server import FeedServer, serving

IPSUM = Path("/work/shared/data/ipsum/level3.txt")
MISP_EVENTS = Path(__file__).resolve().parents[1] / "codecs" / "golden" / "misp"
T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture(params=["memory", "sqlite"])
def instance(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Instance:
    url = "memory://" if request.param == "memory" else ""
    return build(Settings(data_dir=tmp_path / "data", database_url=url), clock=clock)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    return folder


@pytest.fixture
def server(site: Path) -> Iterator[FeedServer]:
    with serving(site) as running:
        yield running
