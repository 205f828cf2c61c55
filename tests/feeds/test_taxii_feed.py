"""TAXII feeds against a tiny TAXII 2.1 server (http.server): the first run takes every
indicator, later runs only those added after the cursor; a revoked or expired object withdraws
what it gave; a server error fails the run and keeps the previous state."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from iocd.compose import Instance
from iocd.domain.feeds import FeedKind, RunOutcome
from tests.feeds.feed_support import active_values, add_feed, run

MEDIA = "application/taxii+json;version=2.1"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def indicator(n: int, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{n:08d}-0000-4000-8000-000000000000",
        "created": "2029-01-01T00:00:00.000Z",
        "modified": "2029-01-01T00:00:00.000Z",
        "name": f"C2 {value}",
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2029-01-01T00:00:00Z",
        **extra,
    }


class Taxii:
    def __init__(self) -> None:
        self.objects: list[tuple[str, dict[str, Any]]] = []  # (date added, object)
        self.fail = False
        self.asked: list[str] = []
        taxii = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def _json(self, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", MEDIA)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                taxii.asked.append(self.path)
                if taxii.fail:
                    self.send_error(500)
                    return
                if parts.path == f"/api1/collections/{COLLECTION}/":
                    self._json(
                        {
                            "id": COLLECTION,
                            "title": "c2",
                            "can_read": True,
                            "can_write": False,
                            "media_types": [MEDIA],
                        }
                    )
                    return
                if parts.path != f"/api1/collections/{COLLECTION}/objects/":
                    self.send_error(404)
                    return
                after = parse_qs(parts.query).get("added_after", [""])[0]
                chosen = [(d, o) for d, o in taxii.objects if d > after]
                headers = {}
                if chosen:
                    headers = {
                        "x-taxii-date-added-first": chosen[0][0],
                        "x-taxii-date-added-last": chosen[-1][0],
                    }
                self._json({"more": False, "objects": [o for _, o in chosen]}, headers)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api1/"

    def add(self, added: str, obj: dict[str, Any]) -> None:
        self.objects = [(d, o) for d, o in self.objects if o["id"] != obj["id"]]
        self.objects.append((added, obj))


@pytest.fixture
def taxii() -> Iterator[Taxii]:
    server = Taxii()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_taxii_feed(instance: Instance, taxii: Taxii) -> None:
    taxii.add("2029-01-01T00:00:01.000Z", indicator(1, "45.9.0.1"))
    taxii.add("2029-01-01T00:00:02.000Z", indicator(2, "45.9.0.2"))
    taxii.add("2029-01-01T00:00:03.000Z", indicator(3, "45.9.0.3", pattern_type="yara"))
    add_feed(instance, "taxii", taxii.root, FeedKind.TAXII, collection=COLLECTION)
    first = run(instance, "taxii")
    assert first.outcome is RunOutcome.OK and first.full, first.error
    assert (first.added, first.skipped) == (2, 1)
    assert "'yara' pattern" in first.skip_reasons[0][1]
    assert active_values(instance, "Feed:taxii") == {"45.9.0.1", "45.9.0.2"}

    assert run(instance, "taxii").outcome is RunOutcome.NOT_MODIFIED
    assert "added_after=2029-01-01T00%3A00%3A03.000Z" in taxii.asked[-1]

    taxii.add("2029-01-01T00:00:04.000Z", indicator(1, "45.9.0.1", revoked=True))
    taxii.add("2029-01-01T00:00:05.000Z", indicator(4, "45.9.0.4"))
    taxii.add(
        "2029-01-01T00:00:06.000Z",
        indicator(2, "45.9.0.2", valid_until="2029-06-01T00:00:00Z"),
    )
    second = run(instance, "taxii")
    assert second.outcome is RunOutcome.OK and not second.full, second.error
    assert (second.added, second.withdrawn) == (1, 2)
    assert active_values(instance, "Feed:taxii") == {"45.9.0.4"}

    taxii.fail = True
    taxii.add("2029-01-01T00:00:07.000Z", indicator(5, "45.9.0.5"))
    failed = run(instance, "taxii")
    assert failed.outcome is RunOutcome.FAILED and "500" in (failed.error or "")
    assert active_values(instance, "Feed:taxii") == {"45.9.0.4"}
