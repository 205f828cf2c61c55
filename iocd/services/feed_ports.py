"""The interfaces the feed service needs: where feeds and their runs are kept (FeedStore) and
how a feed is fetched (FeedSource, giving a FeedPull). Adapters: store.feeds,
store.memory_feeds, feeds.sources; chosen in compose."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from iocd.domain.feeds import Feed, FeedRun, FeedState
from iocd.domain.indicator import IdentityKey, IndicatorFields

__all__ = ["FeedItem", "FeedPull", "FeedSource", "FeedStore"]


class FeedStore(Protocol):
    """Feeds and their run history (store.feeds over SQL, store.memory_feeds in memory).

    Each method is its own unit of work. Names are unique; ids are never reused while a feed
    exists. A claim marks a feed as running so that no two runs of it overlap, in this process
    or another sharing the store; a claim older than `stale_before` is taken over.
    """

    def create_feed(self, feed: Feed) -> Feed:
        """Store a new feed (its id is assigned); Conflict if the name is taken."""
        ...

    def get_feed(self, name: str) -> Feed | None: ...

    def list_feeds(self) -> builtins.list[Feed]:
        """By name."""
        ...

    def set_enabled(self, feed_id: int, enabled: bool) -> None: ...

    def save_state(self, feed_id: int, state: FeedState) -> None: ...

    def delete_feed(self, feed_id: int) -> bool:
        """Remove a feed and its runs; False if there was none."""
        ...

    def claim(self, feed_id: int, token: str, now: datetime, stale_before: datetime) -> bool:
        """Mark the feed running under `token` (and attempted at `now`) unless another live
        claim holds it; True if this caller holds it now."""
        ...

    def release(self, feed_id: int, token: str) -> None:
        """Drop the claim if `token` still holds it."""
        ...

    def add_run(self, run: FeedRun) -> FeedRun:
        """Record a finished run (its id is assigned)."""
        ...

    def runs(self, feed_id: int, limit: int) -> builtins.list[FeedRun]:
        """The newest runs of a feed first."""
        ...

    def last_runs(self) -> dict[int, FeedRun]:
        """Each feed's newest run, by feed id."""
        ...


FeedItem = tuple[str, IndicatorFields | str]
"""(a label for reports, the item's fields or why it was left out)."""


class FeedPull(Protocol):
    """One fetch of a feed, ready to apply: consume `added()` first, then `removed()` (or
    `holds`), then `commit()` once everything is applied; `close()` in any case.

    `full`: there was no base to diff against (first run, lost snapshot) or a full pass was
    asked for: `added()` yields every item and `removed()` nothing (the caller reconciles
    against the store with `holds`). Otherwise `added()` yields only the items that are new
    since the last good run and `removed()` the identities no item of the feed gives any more.
    """

    not_modified: bool
    full: bool
    fetched: int
    over_cap: int
    unchanged: int
    state: FeedState

    def added(self) -> Iterator[FeedItem]: ...

    def removed(self) -> Iterator[IdentityKey]: ...

    def holds(self, keys: Sequence[IdentityKey]) -> builtins.list[bool]:
        """Whether an item of this pull gives each identity (after `added()` is consumed)."""
        ...

    def usable(self) -> int:
        """Items of the feed that give an indicator (after `added()` is consumed)."""
        ...

    def commit(self) -> str:
        """Keep this pull as the base of the next diff; returns the snapshot token."""
        ...

    def close(self) -> None: ...


class FeedSource(Protocol):
    """Fetches feeds (feeds.sources): HTTP with conditional requests, MISP feeds, TAXII."""

    def pull(self, feed: Feed, now: datetime, *, full: bool) -> FeedPull:
        """Fetch and read the whole feed before anything is applied; domain.feeds.
        FeedUnavailable with a clear reason if it cannot be fetched or read."""
        ...

    def forget(self, feed_id: int) -> None:
        """Drop what is kept of a removed feed (its snapshot)."""
        ...
