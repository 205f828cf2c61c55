"""A stand-in for the server's side of the agent protocol, as an httpx transport.

It keeps a list of `ListedIndicator`s with a change history, answers enrolment, snapshots (Arrow
IPC with the digest headers), deltas with long-poll (held until a change or `wait`), status and
gzip report batches (deduplicated by batchId). `down = True` makes every request fail to connect,
as a stopped server would.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import replace
from typing import Any

import httpx

from iocd.agent.protocol import digest_of, listed_to_upsert, write_snapshot
from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType

TOKEN = "enrol-me"


def sha_indicator(
    ident: int, value: str, action: Action = Action.BLOCK, **fields: Any
) -> ListedIndicator:
    return ListedIndicator(ident, IndicatorType.FILE_SHA256, value, action, **fields)


class FakeServer:
    def __init__(self, group: str = "Laptops") -> None:
        self.group = group
        self.sequence = 0
        self.indicators: dict[int, ListedIndicator] = {}
        self.history: list[tuple[int, int]] = []  # (sequence, indicator id)
        self.forgotten_before = 0
        self.down = False
        self.reports: dict[str, dict[str, Any]] = {}
        self.report_posts = 0
        self.statuses: list[dict[str, Any]] = []
        self.snapshots_served = 0
        self.corrupt_next_delta = False
        self._changed = threading.Condition()

    # administration
    def put(self, indicator: ListedIndicator) -> ListedIndicator:
        with self._changed:
            self.sequence += 1
            stored = replace(indicator, sequence=self.sequence)
            self.indicators[stored.id] = stored
            self.history.append((self.sequence, stored.id))
            self._changed.notify_all()
        return stored

    def remove(self, ident: int) -> None:
        with self._changed:
            self.sequence += 1
            self.indicators.pop(ident, None)
            self.history.append((self.sequence, ident))
            self._changed.notify_all()

    def set_down(self, down: bool) -> None:
        with self._changed:
            self.down = down
            self._changed.notify_all()

    def alerts(self) -> list[dict[str, Any]]:
        return [a for body in self.reports.values() for a in body["alerts"]]

    def events(self) -> list[dict[str, Any]]:
        return [e for body in self.reports.values() for e in body["events"]]

    @property
    def digest(self) -> str:
        return digest_of(self.indicators.values())

    # transport
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path
        if path == "/api/agents/enroll":
            body = json.loads(request.content)
            if body.get("enrollToken") != TOKEN:
                return _error(
                    401, "Unauthorized", "the enrolment token is not valid", "enrollToken"
                )
            return httpx.Response(
                200,
                json={
                    "deviceId": "dev1",
                    "deviceCredential": "iocd_dev_dev1_s3cret",
                    "group": self.group,
                },
            )
        if request.headers.get("Authorization") != "Bearer iocd_dev_dev1_s3cret":
            return _error(401, "Unauthorized", "bad device credential", "Authorization")
        if path == "/api/agents/policy/snapshot":
            with self._changed:
                self.snapshots_served += 1
                data = write_snapshot(self.indicators.values())
                headers = {"X-Iocd-Sequence": str(self.sequence), "X-Iocd-Digest": self.digest}
            return httpx.Response(200, content=data, headers=headers)
        if path == "/api/agents/policy":
            return self._changes(
                int(request.url.params["since"]), float(request.url.params["wait"])
            )
        if path == "/api/agents/status":
            self.statuses.append(json.loads(request.content))
            return httpx.Response(200, json={"group": self.group, "sequence": self.sequence})
        if path == "/api/agents/reports":
            assert request.headers["Content-Encoding"] == "gzip"
            body = json.loads(gzip.decompress(request.content))
            self.report_posts += 1
            duplicate = body["batchId"] in self.reports
            self.reports.setdefault(body["batchId"], body)
            return httpx.Response(200, json={"accepted": not duplicate, "duplicate": duplicate})
        return _error(404, "NotFound", "no such endpoint", path)

    def _changes(self, since: int, wait: float) -> httpx.Response:
        with self._changed:
            self._changed.wait_for(lambda: self.sequence > since or self.down, timeout=wait)
            if self.down:
                raise httpx.ReadError("connection reset")
            if since < self.forgotten_before:
                return httpx.Response(
                    200, json={"kind": "snapshot-required", "sequence": self.sequence}
                )
            if self.sequence <= since:
                return httpx.Response(200, json={"kind": "unchanged", "sequence": self.sequence})
            ids = {i for s, i in self.history if s > since}
            digest = self.digest
            if self.corrupt_next_delta:
                self.corrupt_next_delta = False
                digest = "f" * 64
            return httpx.Response(
                200,
                json={
                    "kind": "delta",
                    "sequence": self.sequence,
                    "digest": digest,
                    "upserts": [
                        listed_to_upsert(self.indicators[i])
                        for i in sorted(ids)
                        if i in self.indicators
                    ],
                    "removals": [str(i) for i in sorted(ids) if i not in self.indicators],
                },
            )


def _error(status: int, code: str, message: str, target: str) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message, "target": target}}
    )
