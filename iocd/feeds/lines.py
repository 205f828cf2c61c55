"""Plain-text and CSV feeds: the value of each line, and how a value becomes indicator fields.

A list feed holds one value per line; a line starting with the comment prefix is skipped, and
so is the rest of a line after white space and the prefix (`1.2.3.0/24 ; SBL123`). A CSV feed
names its value column by header name or 1-based position, with its own delimiter; comment
lines and blank lines are skipped there too. The type of each value is detected as
`iocd indicators import` does for plain lists (domain.values.detect_type) unless the feed
forces one. Values are kept raw in the snapshot and normalised only when they are new.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from iocd.codecs.plainlist import MAX_LINE_BYTES
from iocd.codecs.rows import UTF8_BOM, echo
from iocd.domain.drafts import build_fields
from iocd.domain.feeds import Feed, FeedUnavailable
from iocd.domain.values import detect_type
from iocd.errors import InvalidInput
from iocd.feeds.snapshot import Decode, Decoded

NO_VALUE = "\x00"
"""The item line of a CSV row without the value column (it gives no indicator)."""


def _text_lines(path: Path, comment: str) -> Iterator[str]:
    """Decoded lines without comment lines and blank lines (a BOM dropped, long lines cut)."""
    with open(path, "rb") as source:
        first = True
        for data in source:
            if first:
                data = data.removeprefix(UTF8_BOM)
                first = False
            if len(data) > MAX_LINE_BYTES:
                data = data[:MAX_LINE_BYTES]
            text = data.decode("utf-8", "replace").strip()
            if text and not text.startswith(comment):
                yield text


def list_values(path: Path, comment: str) -> Iterator[str]:
    trailing = re.compile(r"\s" + re.escape(comment))
    for text in _text_lines(path, comment):
        if comment in text:
            found = trailing.search(text)
            if found is not None:
                text = text[: found.start()].rstrip()
        yield text


def csv_values(path: Path, feed: Feed) -> Iterator[str]:
    """The value cell of each row (NO_VALUE when the row is too short); FeedUnavailable when the
    header lacks the named column."""
    options = feed.options
    rows = csv.reader(_text_lines(path, options.comment), delimiter=options.delimiter)
    column = options.column or "1"
    try:
        if options.has_header:
            header = [cell.strip().casefold() for cell in next(rows, [])]
            if column.isdigit():
                index = int(column) - 1
            elif column.strip().casefold() in header:
                index = header.index(column.strip().casefold())
            else:
                shown = ", ".join(header[:20]) or "no header row"
                raise FeedUnavailable(f"the CSV has no column {column!r} (it has: {shown})")
        else:
            index = int(column) - 1
        for row in rows:
            yield row[index].strip() if len(row) > index else NO_VALUE
    except csv.Error as exc:
        raise FeedUnavailable(f"the CSV cannot be read: {exc}") from None


def value_decoder(feed: Feed, now: datetime) -> Decode:
    """A raw value -> (the value, its fields or why it gives no indicator)."""
    defaults, forced = feed.defaults, feed.options.indicator_type
    title = f"Feed {feed.name}"
    description = f"Listed by feed {feed.name} ({feed.url})"[:8192]
    expiry = feed.expiry_for(now)

    def decode(value: str) -> Decoded:
        if value == NO_VALUE:
            return "(row)", f"the row has no column {feed.options.column}"
        kind = forced or detect_type(value)
        try:
            fields = build_fields(
                indicator_type=kind,
                value=value,
                action=defaults.action,
                title=title,
                description=description,
                severity=defaults.severity,
                expiration_time=expiry,
                rbac_group_names=defaults.device_groups,
            )
        except InvalidInput as exc:
            detected = "" if forced else f" (detected type: {kind.value})"
            return echo(value), f"{exc.field}: {exc.reason}{detected}"
        return echo(value), fields

    return decode
