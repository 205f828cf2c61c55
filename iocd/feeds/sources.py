"""FeedSource (services.ports) for every kind of feed: fetch, write the snapshot, diff.

Everything a pull fetches goes to a folder of its own under `<data>/feeds/<id>/`; the pull is
read whole (every event, every row) before the service applies anything, and becomes the base
of the next diff only when the service commits it after a complete run. A failed pull leaves
the base and the feed's state as they were.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from iocd.codecs.misp import KnownBenign
from iocd.domain.feeds import Feed, FeedKind, FeedState, FeedUnavailable
from iocd.feeds.http import FetchLimits, fetch
from iocd.feeds.items import item_decoder
from iocd.feeds.lines import csv_values, list_values, value_decoder
from iocd.feeds.misp import pull_misp
from iocd.feeds.snapshot import Base, ItemWriter, NotModifiedPull, SnapshotPull, Workspace
from iocd.feeds.taxii import pull_taxii

Pull = SnapshotPull | NotModifiedPull


class FeedSources:
    def __init__(
        self,
        root: Path,
        *,
        known_benign: KnownBenign | None = None,
        limits: FetchLimits | None = None,
    ) -> None:
        """`root` is `<data>/feeds`; `known_benign` screens MISP attributes (warninglists)."""
        self._root = root
        self._known_benign = known_benign
        self._limits = limits or FetchLimits()

    def workspace(self, feed_id: int) -> Workspace:
        return Workspace(self._root / str(feed_id))

    def forget(self, feed_id: int) -> None:
        self.workspace(feed_id).clear()

    def pull(self, feed: Feed, now: datetime, *, full: bool) -> Pull:
        workspace = self.workspace(feed.id)
        base = None if full else workspace.base(feed.state.snapshot)
        directory = workspace.new_pull()
        writer = ItemWriter(directory, feed.cap)
        try:
            pulled = self._write_items(feed, directory, writer, base, now, full=full)
            if pulled is None:
                writer.abort()
                shutil.rmtree(directory, ignore_errors=True)
                return NotModifiedPull(feed.state)
            state, fetched = pulled
            hashes = writer.finish()
        except BaseException:
            writer.abort()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        decode = item_decoder(feed, now) if feed.kind in STRUCTURED else value_decoder(feed, now)
        return SnapshotPull(
            workspace, directory, hashes, base, decode, state, fetched, writer.over_cap
        )

    def _write_items(
        self,
        feed: Feed,
        directory: Path,
        writer: ItemWriter,
        base: Base | None,
        now: datetime,
        *,
        full: bool,
    ) -> tuple[FeedState, int] | None:
        auth = credentials(feed)
        if feed.kind is FeedKind.MISP:
            state, count = pull_misp(
                feed,
                directory,
                writer,
                base,
                full=full,
                auth=auth,
                limits=self._limits,
                known_benign=self._known_benign,
            )
            return None if state is None else (state, count)
        if feed.kind is FeedKind.TAXII:
            taxii_state, count = pull_taxii(
                feed, writer, base, now, full=full, auth=auth, limits=self._limits
            )
            return None if taxii_state is None else (taxii_state, count)
        body = directory / "body"
        fetched = fetch(
            feed.url,
            body,
            etag=None if full else feed.state.etag,
            last_modified=None if full else feed.state.last_modified,
            auth=auth,
            limits=self._limits,
        )
        if fetched.not_modified:
            return None
        values = (
            csv_values(body, feed)
            if feed.kind is FeedKind.CSV
            else list_values(body, feed.options.comment)
        )
        count = 0
        for value in values:
            writer.add(value)
            count += 1
        body.unlink()
        state = replace(feed.state, etag=fetched.etag, last_modified=fetched.last_modified)
        return state, count


STRUCTURED = frozenset({FeedKind.MISP, FeedKind.TAXII})


def credentials(feed: Feed) -> tuple[str, str] | None:
    """(user, password) when the feed names a user; the password comes from the environment
    variable the feed names (it is never stored)."""
    options = feed.options
    if not options.username:
        return None
    password = os.environ.get(options.password_env, "") if options.password_env else ""
    if options.password_env and not password:
        raise FeedUnavailable(f"the environment variable {options.password_env} is not set")
    return options.username, password
