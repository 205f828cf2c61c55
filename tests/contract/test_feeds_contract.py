"""FeedStore: one behaviour over memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from iocd.domain.feeds import (
    Feed,
    FeedKind,
    FeedOptions,
    FeedRun,
    FeedState,
    RunOutcome,
    make_defaults,
)
from iocd.errors import Conflict
from iocd.services.feed_ports import FeedStore
from iocd.store.feeds import SqlFeedStore
from iocd.store.memory_feeds import MemoryFeedStore
from tests.contract.conftest import STORE_KINDS

T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(params=STORE_KINDS)
def feeds(request: pytest.FixtureRequest) -> FeedStore:
    if request.param == "memory":
        return MemoryFeedStore()
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return SqlFeedStore(engine)


def _feed(name: str) -> Feed:
    return Feed(
        0,
        name,
        FeedKind.CSV,
        "https://example.net/feed.csv",
        FeedOptions(column="url", delimiter=";", indicator_type=None, include_non_ids=True),
        make_defaults("Block", "High", 30, ["lab", "dmz"]),
        1000,
        600,
        True,
        T0,
        "root",
    )


def _run(feed_id: int, at: datetime, outcome: RunOutcome = RunOutcome.OK) -> FeedRun:
    return FeedRun(
        0,
        feed_id,
        "f",
        at,
        at + timedelta(seconds=3),
        outcome,
        10,
        5,
        1,
        2,
        2,
        3,
        (("bad", "why"),),
        None if outcome is RunOutcome.OK else "boom",
        True,
    )


def test_feeds_round_trip_and_names_are_unique(feeds: FeedStore) -> None:
    created = feeds.create_feed(_feed("b"))
    other = feeds.create_feed(_feed("a"))
    assert created.id != other.id and created.id > 0
    assert feeds.get_feed("b") == created
    assert created.defaults.device_groups == ("dmz", "lab")
    assert created.options.column == "url" and created.options.include_non_ids
    assert [f.name for f in feeds.list_feeds()] == ["a", "b"]
    with pytest.raises(Conflict):
        feeds.create_feed(_feed("b"))
    state = FeedState(
        etag='"x"', event_timestamps={"u": "1"}, snapshot="tok", usable=3, full_pass_at=T0
    )
    feeds.save_state(created.id, state)
    feeds.set_enabled(created.id, False)
    stored = feeds.get_feed("b")
    assert stored is not None and stored.state == state and not stored.enabled
    assert feeds.delete_feed(created.id) and not feeds.delete_feed(created.id)
    assert feeds.get_feed("b") is None


def test_claims_exclude_other_runs_until_stale(feeds: FeedStore) -> None:
    feed = feeds.create_feed(_feed("c"))
    assert feeds.claim(feed.id, "one", T0, T0 - timedelta(hours=1))
    assert not feeds.claim(feed.id, "two", T0, T0 - timedelta(hours=1))
    assert feeds.claim(feed.id, "one", T0 + timedelta(minutes=1), T0)  # heartbeat
    running = feeds.get_feed("c")
    assert running is not None and running.running_since is not None
    assert running.last_attempt_at is not None
    later = T0 + timedelta(hours=2)
    assert feeds.claim(feed.id, "two", later, later - timedelta(hours=1))  # stale: taken over
    feeds.release(feed.id, "one")  # no longer its claim: nothing happens
    assert not feeds.claim(feed.id, "three", later, later - timedelta(hours=1))
    feeds.release(feed.id, "two")
    assert feeds.claim(feed.id, "three", later, later - timedelta(hours=1))


def test_runs_newest_first_and_last_run_per_feed(feeds: FeedStore) -> None:
    a = feeds.create_feed(_feed("a"))
    b = feeds.create_feed(_feed("b"))
    first = feeds.add_run(_run(a.id, T0))
    second = feeds.add_run(_run(a.id, T0 + timedelta(hours=1), RunOutcome.FAILED))
    other = feeds.add_run(_run(b.id, T0))
    assert second.id > first.id
    assert feeds.runs(a.id, 10) == [second, first]
    assert feeds.runs(a.id, 1) == [second]
    assert second.skip_reasons == (("bad", "why"),) and second.error == "boom"
    assert feeds.last_runs() == {a.id: second, b.id: other}
    feeds.delete_feed(a.id)
    assert feeds.runs(a.id, 10) == []
