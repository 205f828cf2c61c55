"""A Defender-compatible Indicators API over HTTP, as one application (OAuth2 client
credentials) sees it: another iocd, or Microsoft Defender for Endpoint itself.

- Token: `POST token_url` with client_id, client_secret, grant_type=client_credentials and
  scope; kept until a minute before it expires, fetched again once on a 401.
- Reads: `GET {base}/indicators` with `$filter`, following `@odata.nextLink` to the last page.
- Writes: `POST {base}/indicators/import` (`{"Indicators": [...]}`, each item's result back);
  deletes with `POST {base}/indicators/BatchDelete`, or one `DELETE` per id when the batch
  endpoint refuses (an id already gone makes the batch fail: it is all or nothing).
- Pace: at most `requests_per_minute` API calls a minute (evenly spaced); a 429 waits its
  `Retry-After` (seconds) and tries again, up to `max_retries` times.

The secret and tokens are never part of an error message or a repr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from iocd.errors import IocdError

PAGE_SIZE = 10_000
VALUES_PER_QUERY = 25
"""Values per `$filter=indicatorValue eq ... or ...` (keeps the URL short)."""
TOKEN_MARGIN_SECONDS = 60
DEFAULT_RETRY_AFTER = 5.0


class RemoteError(IocdError):
    """The remote API refused a call or could not be reached; the message says which."""


class DefenderIndicators:
    """One application's view of a remote Indicators API (services.push.RemoteIndicators)."""

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        requests_per_minute: float | None = None,
        max_retries: int = 5,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        parts = urlsplit(self._base)
        self._scope = scope or f"{parts.scheme}://{parts.netloc}/.default"
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._max_retries = max_retries
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=60)
        self._sleep, self._monotonic = sleep, monotonic
        self._token: str | None = None
        self._token_until = 0.0
        self._next_call = 0.0
        self.calls = 0
        """API calls made (token requests aside), for reports and tests."""

    def __enter__(self) -> DefenderIndicators:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client this object made (one passed in stays the caller's)."""
        if self._owns_http:
            self._http.close()

    def __repr__(self) -> str:
        return f"DefenderIndicators(base_url={self._base!r}, client_id={self._client_id!r})"

    @property
    def client_id(self) -> str:
        return self._client_id

    # -- RemoteIndicators ---------------------------------------------------------------------

    def created_by_me(self) -> Iterator[dict[str, Any]]:
        yield from self._pages(f"createdBy eq {_quoted(self._client_id)}")

    def holders(self, values: Sequence[str]) -> Iterator[dict[str, Any]]:
        for start in range(0, len(values), VALUES_PER_QUERY):
            chosen = values[start : start + VALUES_PER_QUERY]
            yield from self._pages(" or ".join(f"indicatorValue eq {_quoted(v)}" for v in chosen))

    def import_batch(self, bodies: Sequence[dict[str, Any]]) -> list[str | None]:
        answer = self._call("POST", "/indicators/import", json={"Indicators": list(bodies)})
        results = answer.json().get("value", [])
        if len(results) != len(bodies):
            raise RemoteError(
                f"the import answered {len(results)} results for {len(bodies)} indicators"
            )
        return [
            (str(r.get("failureReason") or "failed") if r.get("isFailed") else None)
            for r in results
        ]

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        try:
            self._call("POST", "/indicators/BatchDelete", json={"IndicatorIds": list(ids)})
        except RemoteError:
            for indicator_id in ids:  # one by one: those already gone are fine
                self._call("DELETE", f"/indicators/{indicator_id}", allowed=(404,))

    # -- HTTP -------------------------------------------------------------------------------

    def _pages(self, filter_text: str) -> Iterator[dict[str, Any]]:
        url: str | None = f"{self._base}/indicators"
        params: dict[str, str] | None = {"$filter": filter_text, "$top": str(PAGE_SIZE)}
        while url is not None:
            page = self._call("GET", url, params=params).json()
            yield from page.get("value", [])
            url, params = page.get("@odata.nextLink"), None

    def _call(
        self, method: str, path: str, *, allowed: tuple[int, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        url = path if path.startswith(("http://", "https://")) else self._base + path
        refreshed = False
        for _ in range(self._max_retries + 1):
            self._pace()
            headers = {"Authorization": f"Bearer {self._bearer()}"}
            try:
                response = self._http.request(method, url, headers=headers, **kwargs)
            except httpx.HTTPError as error:
                raise RemoteError(f"{method} {_where(url)}: {type(error).__name__}") from None
            self.calls += 1
            if response.status_code == 429:
                self._sleep(_retry_after(response))
                continue
            if response.status_code == 401 and not refreshed:
                self._token, refreshed = None, True
                continue
            if response.is_success or response.status_code in allowed:
                return response
            raise RemoteError(f"{method} {_where(url)}: {_problem(response)}")
        raise RemoteError(f"{method} {_where(url)}: still rate limited (429) after retries")

    def _pace(self) -> None:
        if not self._interval:
            return
        now = self._monotonic()
        if now < self._next_call:
            self._sleep(self._next_call - now)
            now = self._next_call
        self._next_call = now + self._interval

    def _bearer(self) -> str:
        if self._token is not None and self._monotonic() < self._token_until:
            return self._token
        form = {
            "client_id": self._client_id,
            "client_secret": self._secret,
            "grant_type": "client_credentials",
            "scope": self._scope,
        }
        try:
            response = self._http.post(self._token_url, data=form)
        except httpx.HTTPError as error:
            raise RemoteError(f"token request: {type(error).__name__}") from None
        if not response.is_success:
            raise RemoteError(f"token request: {_problem(response)}")
        answer = response.json()
        self._token = str(answer["access_token"])
        lifetime = float(answer.get("expires_in") or 3599)
        self._token_until = self._monotonic() + max(0.0, lifetime - TOKEN_MARGIN_SECONDS)
        return self._token


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _where(url: str) -> str:
    """The URL's path, for messages (no query: it may hold values the caller filters on)."""
    return urlsplit(url).path


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return DEFAULT_RETRY_AFTER


def _problem(response: httpx.Response) -> str:
    """HTTP status and the remote's own message (MDE error shape or OAuth2's)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return f"HTTP {response.status_code}: {error['message']}"
        if isinstance(error, str):
            detail = body.get("error_description") or ""
            return f"HTTP {response.status_code}: {error} {detail}".strip()
    return f"HTTP {response.status_code}"
