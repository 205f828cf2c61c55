"""MISP feeds: a folder or URL with `manifest.json` (event uuid -> its info and timestamp) and one
`<uuid>.json` per event.

The manifest is fetched conditionally; only the events that are new or whose timestamp changed
are fetched and read (codecs.misp.read_misp: to_ids, warninglists and skip reasons as for
`iocd indicators import --format misp`); the items of the others are carried over from the base
snapshot. An event that leaves the manifest takes its items with it. Events are laid out
newest first, so a cap keeps the newest. Any event that cannot be fetched or read fails the
whole run: nothing is half-imported.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from iocd.codecs.interchange import load_document
from iocd.codecs.misp import KnownBenign, read_misp
from iocd.domain.feeds import Feed, FeedState, FeedUnavailable
from iocd.errors import InvalidInput
from iocd.feeds.http import FetchLimits, fetch, join
from iocd.feeds.items import group_of, item_lines, source_defaults
from iocd.feeds.snapshot import Base, ItemWriter

_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
Auth = tuple[str, str] | None


def read_manifest(path: Path) -> dict[str, str]:
    """Event uuid -> timestamp text; FeedUnavailable if the manifest is not one."""
    try:
        with open(path, "rb") as source:
            document: Any = load_document(source)
    except InvalidInput as exc:
        raise FeedUnavailable(f"manifest.json {exc.reason}") from None
    if not isinstance(document, dict):
        raise FeedUnavailable("manifest.json is not an object of event uuid -> event")
    events: dict[str, str] = {}
    for key, entry in document.items():
        if not _UUID.fullmatch(str(key)) or not isinstance(entry, dict):
            raise FeedUnavailable(f"manifest.json: {key!r} is not an event uuid with its event")
        events[str(key).lower()] = str(entry.get("timestamp", ""))
    return events


def pull_misp(
    feed: Feed,
    directory: Path,
    writer: ItemWriter,
    base: Base | None,
    *,
    full: bool,
    auth: Auth,
    limits: FetchLimits,
    known_benign: KnownBenign | None,
) -> tuple[FeedState | None, int]:
    """Write the feed's items; (the new state, items fetched), or (None, 0) if the manifest
    did not change."""
    state = feed.state
    fetched = fetch(
        join(feed.url, "manifest.json"),
        directory / "manifest.json",
        etag=None if full else state.etag,
        last_modified=None if full else state.last_modified,
        auth=auth,
        limits=limits,
    )
    if fetched.not_modified:
        return None, 0
    manifest = read_manifest(directory / "manifest.json")
    known = dict(state.event_timestamps) if base is not None else {}
    carried = _carried_lines(base, manifest, known)
    count = 0
    newest_first = sorted(manifest, key=lambda u: (_number(manifest[u]), u), reverse=True)
    for event in newest_first:
        lines = carried.get(event)
        if lines is None:
            lines = list(_event_lines(feed, event, directory, auth, limits, known_benign))
        for line in lines:
            writer.add(line)
            count += 1
    new_state = replace(
        state,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        event_timestamps=manifest,
    )
    return new_state, count


def _carried_lines(
    base: Base | None, manifest: dict[str, str], known: dict[str, str]
) -> dict[str, list[str]]:
    """The base's lines of the events whose timestamp is the same as last time."""
    same = {u for u, stamp in manifest.items() if known.get(u) == stamp}
    carried: dict[str, list[str]] = {u: [] for u in same}
    if base is None or not same:
        return {}
    for line in base.lines():
        group = group_of(line)
        if group in carried:
            carried[group].append(line)
    return carried


def _event_lines(
    feed: Feed,
    event: str,
    directory: Path,
    auth: Auth,
    limits: FetchLimits,
    known_benign: KnownBenign | None,
) -> list[str]:
    path = directory / f"event-{event}.json"
    fetch(join(feed.url, f"{event}.json"), path, auth=auth, limits=limits)
    try:
        with open(path, "rb") as source:
            items = list(
                read_misp(
                    source,
                    source_defaults(feed),
                    include_non_ids=feed.options.include_non_ids,
                    known_benign=known_benign,
                )
            )
    except InvalidInput as exc:
        raise FeedUnavailable(f"event {event}: {exc.reason}") from None
    finally:
        path.unlink(missing_ok=True)
    return list(item_lines(event, items))


def _number(text: str) -> int:
    return int(text) if text.isdigit() else 0
