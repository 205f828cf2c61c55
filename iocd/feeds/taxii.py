"""TAXII 2.1 collections (taxii2-client): the collection's `indicator` objects, page by page.

A run asks only for objects added after the cursor the previous good run left (the server's
`X-TAXII-Date-Added-Last`), unless the feed has no base snapshot or a full pass is due. Each
fetched object replaces what its previous version gave (codecs.stix.read_stix reads it, with
its skip reasons); a revoked object takes its items away, and one whose `valid_until` has
passed gives a skip: either way what it gave is withdrawn. Objects not fetched again are
carried over from the base snapshot. Requests time out (taxii2-client sets none by itself).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import requests
from taxii2client.common import _HTTPConnection
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import Collection, as_pages

from iocd.codecs.stix import read_stix
from iocd.domain.feeds import Feed, FeedState, FeedUnavailable
from iocd.errors import InvalidInput
from iocd.feeds.http import FetchLimits, join
from iocd.feeds.items import group_of, item_lines, source_defaults
from iocd.feeds.snapshot import Base, ItemWriter

PAGE_SIZE = 1000
MAX_OBJECTS = 2_000_000
DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"


class _Session(requests.Session):
    """A session with a default timeout that remembers the last response's headers."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._timeout = timeout
        self.last_headers: Mapping[str, str] = {}

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = response.headers  # case-insensitive: servers send lower case
        return response


def collection_url(feed: Feed) -> str:
    """The feed's URL is the API root (or the collection URL itself)."""
    url = feed.url.rstrip("/")
    collection = feed.options.collection or ""
    if url.endswith(f"/collections/{collection}"):
        return url + "/"
    return join(url, f"collections/{collection}/")


def fetch_objects(
    feed: Feed, added_after: str | None, auth: tuple[str, str] | None, limits: FetchLimits
) -> tuple[list[dict[str, Any]], str | None]:
    """The collection's indicator objects (added after the cursor), and the new cursor."""
    session = _Session((limits.connect_timeout, limits.read_timeout))
    connection = _HTTPConnection(version="2.1")
    connection.session = session
    if auth is not None:
        session.auth = requests.auth.HTTPBasicAuth(*auth)
    objects: list[dict[str, Any]] = []
    cursor = added_after
    url = collection_url(feed)
    try:
        collection = Collection(url, conn=connection)
        filters: dict[str, Any] = {"type": "indicator"}
        if added_after:
            filters["added_after"] = added_after
        for envelope in as_pages(collection.get_objects, per_request=PAGE_SIZE, **filters):
            page = envelope.get("objects") or []
            if not isinstance(page, list):
                raise FeedUnavailable(f"{url}: the envelope's objects is not a list")
            objects.extend(o for o in page if isinstance(o, dict))
            if len(objects) > MAX_OBJECTS:
                raise FeedUnavailable(f"{url} holds more than {MAX_OBJECTS:,} objects")
            cursor = session.last_headers.get(DATE_ADDED_LAST) or cursor
    except requests.Timeout:
        raise FeedUnavailable(f"{url} timed out") from None
    except requests.HTTPError as exc:
        answer = exc.response
        status = f"{answer.status_code} {answer.reason}" if answer is not None else str(exc)
        raise FeedUnavailable(f"{url} answered {status}") from None
    except (requests.RequestException, TAXIIServiceException, ValueError) as exc:
        raise FeedUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None
    finally:
        session.close()
    return objects, cursor


def pull_taxii(
    feed: Feed,
    writer: ItemWriter,
    base: Base | None,
    now: datetime,
    *,
    full: bool,
    auth: tuple[str, str] | None,
    limits: FetchLimits,
) -> tuple[FeedState | None, int]:
    """Write the feed's items; (the new state, items), or (None, 0) if nothing was added."""
    since = None if (full or base is None) else feed.state.added_after
    objects, cursor = fetch_objects(feed, since, auth, limits)
    if since is not None and not objects:
        return None, 0
    fetched_ids = {str(o.get("id")) for o in objects}
    bundle = {"type": "bundle", "id": "bundle--feed", "objects": objects}
    try:
        items = list(
            read_stix(io.BytesIO(json.dumps(bundle).encode()), source_defaults(feed), now=now)
        )
    except InvalidInput as exc:
        raise FeedUnavailable(f"the collection's objects cannot be read: {exc.reason}") from None
    count = 0
    by_object: dict[str, list[Any]] = {}
    for item in items:
        obj = objects[item.line - 1]
        if obj.get("revoked") is True:
            continue  # revoked: what it gave goes
        by_object.setdefault(str(obj.get("id")), []).append(item)
    for object_id, parsed in by_object.items():
        for line in item_lines(object_id, parsed):
            writer.add(line)
            count += 1
    if base is not None and since is not None:
        for line in base.lines():
            if group_of(line) not in fetched_ids:
                writer.add(line)
                count += 1
    return replace(feed.state, added_after=cursor), count
