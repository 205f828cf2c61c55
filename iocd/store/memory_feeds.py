"""Feeds in memory: the reference behaviour of FeedStore (contract suite in tests/contract)."""

from __future__ import annotations

import builtins
import threading
from dataclasses import replace
from datetime import datetime

from iocd.domain.feeds import Feed, FeedRun, FeedState
from iocd.errors import Conflict


class MemoryFeedStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._feeds: dict[int, Feed] = {}
        self._claims: dict[int, tuple[str, datetime]] = {}
        self._runs: list[FeedRun] = []
        self._next_feed = 1
        self._next_run = 1

    def _current(self, feed: Feed) -> Feed:
        claim = self._claims.get(feed.id)
        return replace(feed, running_since=claim[1] if claim else None)

    def create_feed(self, feed: Feed) -> Feed:
        with self._lock:
            if any(f.name == feed.name for f in self._feeds.values()):
                raise Conflict(f"a feed named {feed.name!r} exists")
            created = replace(feed, id=self._next_feed)
            self._next_feed += 1
            self._feeds[created.id] = created
            return created

    def get_feed(self, name: str) -> Feed | None:
        with self._lock:
            found = [f for f in self._feeds.values() if f.name == name]
            return self._current(found[0]) if found else None

    def list_feeds(self) -> builtins.list[Feed]:
        with self._lock:
            return [self._current(f) for f in sorted(self._feeds.values(), key=lambda f: f.name)]

    def set_enabled(self, feed_id: int, enabled: bool) -> None:
        with self._lock:
            if feed_id in self._feeds:
                self._feeds[feed_id] = replace(self._feeds[feed_id], enabled=enabled)

    def save_state(self, feed_id: int, state: FeedState) -> None:
        with self._lock:
            if feed_id in self._feeds:
                self._feeds[feed_id] = replace(self._feeds[feed_id], state=state)

    def delete_feed(self, feed_id: int) -> bool:
        with self._lock:
            self._runs = [r for r in self._runs if r.feed_id != feed_id]
            self._claims.pop(feed_id, None)
            return self._feeds.pop(feed_id, None) is not None

    def claim(self, feed_id: int, token: str, now: datetime, stale_before: datetime) -> bool:
        with self._lock:
            if feed_id not in self._feeds:
                return False
            held = self._claims.get(feed_id)
            if held is not None and held[0] != token and held[1] >= stale_before:
                return False
            self._claims[feed_id] = (token, now)
            self._feeds[feed_id] = replace(self._feeds[feed_id], last_attempt_at=now)
            return True

    def release(self, feed_id: int, token: str) -> None:
        with self._lock:
            held = self._claims.get(feed_id)
            if held is not None and held[0] == token:
                del self._claims[feed_id]

    def add_run(self, run: FeedRun) -> FeedRun:
        with self._lock:
            stored = replace(run, id=self._next_run)
            self._next_run += 1
            self._runs.append(stored)
            return stored

    def runs(self, feed_id: int, limit: int) -> builtins.list[FeedRun]:
        with self._lock:
            mine = [r for r in self._runs if r.feed_id == feed_id]
        return sorted(mine, key=lambda r: r.id, reverse=True)[:limit]

    def last_runs(self) -> dict[int, FeedRun]:
        with self._lock:
            out: dict[int, FeedRun] = {}
            for run in self._runs:
                out[run.feed_id] = run
            return out
