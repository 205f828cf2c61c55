"""The agent's HTTP client for the server's `/api/agents/...` endpoints.

Every call but enrolment carries the device credential as a bearer token. Connection failures,
timeouts, 429 and 5xx answers are retried with exponential backoff (`retries` times, capped at
`max_backoff` seconds, honouring Retry-After); after that `ServerUnreachable` is raised. Any other
error answer raises `AgentApiError` with the API's error body (`code`, `message`, `target`) and is
never retried: repeating a refused request gives the same answer.

A snapshot can be large (some 20 MB at a million indicators): `download_snapshot` streams it to
a file (flushed to disk) rather than holding it in memory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

from iocd import __version__

USER_AGENT = f"iocd-agent/{__version__}"
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class AgentApiError(Exception):
    """The server refused a request; `code`, `message` and `target` come from its error body."""

    def __init__(self, status: int, code: str, message: str, target: str = "") -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({target})" if target else ""))
        self.status = status
        self.code = code
        self.message = message
        self.target = target


class ServerUnreachable(Exception):
    """No answer from the server (or only 5xx/429) after every retry."""


@dataclass(frozen=True, slots=True)
class SnapshotReply:
    data: bytes
    sequence: int
    digest: str


@dataclass(frozen=True, slots=True)
class SnapshotFile:
    """A snapshot downloaded to `path`: `size` bytes at `sequence`, said to have `digest`."""

    path: Path
    size: int
    sequence: int
    digest: str


class AgentClient:
    def __init__(
        self,
        server: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.server,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def enroll(self, facts: dict[str, Any]) -> dict[str, Any]:
        """`facts` plus `enrollToken`; answers deviceId, deviceCredential and group."""
        return _json(self._call("POST", "/api/agents/enroll", json=facts, auth=False))

    def snapshot(self) -> SnapshotReply:
        reply = self._call("GET", "/api/agents/policy/snapshot", timeout=max(self.timeout, 60))
        sequence, digest = _snapshot_headers(reply)
        return SnapshotReply(reply.content, sequence, digest)

    def download_snapshot(self, path: Path) -> SnapshotFile:
        """The snapshot, streamed into `path` (created owner-only, fsynced): the body is never
        held in memory whole."""
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as sink:
            reply = self._call(
                "GET", "/api/agents/policy/snapshot", timeout=max(self.timeout, 60), sink=sink
            )
            sink.flush()
            os.fsync(sink.fileno())
            size = sink.tell()
        sequence, digest = _snapshot_headers(reply)
        return SnapshotFile(path, size, sequence, digest)

    def changes(self, since: int, wait: float) -> dict[str, Any]:
        """A delta, `snapshot-required` or `unchanged` (held by the server up to `wait` s)."""
        params = {"since": str(since), "wait": f"{wait:g}"}
        reply = self._call("GET", "/api/agents/policy", params=params, timeout=wait + self.timeout)
        return _json(reply)

    def status(self, report: dict[str, Any]) -> dict[str, Any]:
        return _json(self._call("POST", "/api/agents/status", json=report))

    def reports(self, gzipped: bytes) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        return _json(self._call("POST", "/api/agents/reports", content=gzipped, headers=headers))

    def tasks(self) -> list[dict[str, Any]]:
        """This device's open remediation tasks (automated investigations)."""
        value = _json(self._call("GET", "/api/agents/tasks")).get("value")
        return [t for t in value if isinstance(t, dict)] if isinstance(value, list) else []

    def task_result(self, task_id: str, result: dict[str, Any]) -> dict[str, Any]:
        return _json(self._call("POST", f"/api/agents/tasks/{task_id}", json=result))

    def _call(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        sink: IO[bytes] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if auth:
            if not self.token:
                raise AgentApiError(401, "NotEnrolled", "the agent has no device credential")
            sent["Authorization"] = f"Bearer {self.token}"
        limit = httpx.Timeout(timeout, connect=min(self.timeout, 5.0)) if timeout else None
        delay = self.backoff
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(delay)
                delay = min(delay * 2, self.max_backoff)
            try:
                request = self._http.build_request(
                    method, path, headers=sent, timeout=limit or httpx.USE_CLIENT_DEFAULT, **kwargs
                )
                reply = self._send(request, sink)
            except httpx.TransportError as error:
                last = f"{type(error).__name__}: {error}"
                continue
            if reply.status_code in _RETRY_STATUS:
                last = f"HTTP {reply.status_code}"
                after = reply.headers.get("Retry-After", "")
                if after.isdigit():
                    delay = min(float(after), self.max_backoff)
                continue
            if reply.status_code >= 400:
                raise _api_error(reply)
            return reply
        raise ServerUnreachable(f"{method} {self.server}{path}: {last}")

    def _send(self, request: httpx.Request, sink: IO[bytes] | None) -> httpx.Response:
        """Send; a successful answer's body goes to `sink` (from its start) when one is given."""
        if sink is None:
            return self._http.send(request)
        reply = self._http.send(request, stream=True)
        try:
            if reply.status_code >= 300:
                reply.read()
                return reply
            sink.seek(0)
            sink.truncate()
            for chunk in reply.iter_bytes(1 << 20):
                sink.write(chunk)
        finally:
            reply.close()
        return reply


def _snapshot_headers(reply: httpx.Response) -> tuple[int, str]:
    """The sequence value and digest a snapshot answer carries in its headers."""
    try:
        return int(reply.headers["X-Iocd-Sequence"]), reply.headers["X-Iocd-Digest"].strip().lower()
    except (KeyError, ValueError) as error:
        message = f"header missing: {error}"
        raise AgentApiError(reply.status_code, "BadSnapshot", message) from error


def _json(reply: httpx.Response) -> dict[str, Any]:
    try:
        data = reply.json()
    except ValueError as error:
        raise AgentApiError(reply.status_code, "BadReply", f"not JSON: {error}") from error
    if not isinstance(data, dict):
        raise AgentApiError(reply.status_code, "BadReply", "not a JSON object")
    return data


def _api_error(reply: httpx.Response) -> AgentApiError:
    try:
        error = reply.json()["error"]
        return AgentApiError(
            reply.status_code,
            str(error.get("code", "Error")),
            str(error.get("message", "")),
            str(error.get("target", "")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return AgentApiError(reply.status_code, f"HTTP{reply.status_code}", reply.text[:200])
