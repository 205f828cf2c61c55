"""Bad input over HTTP: broken JSON, wrong media types, oversize bodies, and SQL or OData injection
attempts in $filter. Each answers a correct result or an MDE-shaped 4xx; the data stays intact."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.parse import quote_plus, urlsplit

import pytest

from tests.api.api_support import LiveApi, StartApi, assert_mde_error, body, without_sightings

MIB = 1024 * 1024
LIMIT = 32 * MIB
WRITES = ["/api/indicators", "/api/indicators/import", "/api/indicators/BatchDelete"]


@pytest.mark.parametrize("path", WRITES)
@pytest.mark.parametrize(
    "raw",
    [b"{", b"{'indicatorValue': 'x'}", b"", b"\xff\xfe\x00", b'{"a": 1,}', b"[1, 2", b"nul"],
    ids=[
        "open-brace",
        "single-quotes",
        "empty",
        "not-utf8",
        "trailing-comma",
        "open-list",
        "bare-word",
    ],
)
def test_malformed_json_is_invalid_request_body(
    api: LiveApi, headers: dict, path: str, raw: bytes
) -> None:
    response = api.http.post(
        path, content=raw, headers={**headers, "Content-Type": "application/json"}
    )
    assert_mde_error(response, 400, "InvalidRequestBody")


@pytest.mark.parametrize("path", WRITES)
@pytest.mark.parametrize("payload", ["[]", '"text"', "42", "null", "true"])
def test_json_that_is_not_an_object(api: LiveApi, headers: dict, path: str, payload: str) -> None:
    response = api.http.post(
        path, content=payload, headers={**headers, "Content-Type": "application/json"}
    )
    assert_mde_error(response, 400)


@pytest.mark.parametrize("path", WRITES)
@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "json",
    ],
)
def test_wrong_content_type_is_415(
    api: LiveApi, headers: dict, path: str, content_type: str | None
) -> None:
    sent = {**headers}
    if content_type is not None:
        sent["Content-Type"] = content_type
    response = api.http.post(path, content=b'{"Indicators": []}', headers=sent)
    assert_mde_error(response, 415)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_content_type_variants_are_accepted(
    api: LiveApi, headers: dict, content_type: str
) -> None:
    response = api.http.post(
        "/api/indicators/import",
        content=b'{"Indicators": []}',
        headers={**headers, "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text


def _chunks(total: int, size: int = MIB) -> Iterator[bytes]:
    yield b'{"Indicators": ["'
    sent = 17
    while sent < total:
        yield b"a" * size
        sent += size


def test_oversize_streamed_body_is_413(api: LiveApi, headers: dict) -> None:
    before = api.instance.indicators.active_count()
    response = api.http.post(
        "/api/indicators/import",
        content=_chunks(LIMIT + 2 * MIB),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers  # chunked: nothing declared
    assert_mde_error(response, 413)
    assert api.instance.indicators.active_count() == before


def _raw_request(api: LiveApi, head: str, payload: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP/1.1 request over a plain socket; the status, headers and body answered."""
    url = urlsplit(api.base_url)
    assert url.hostname is not None
    assert url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + payload)
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head_bytes, _, rest = received.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in fields.items()}, rest


def _complete(received: bytes) -> bool:
    head, _, rest = received.partition(b"\r\n\r\n")
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(": ")
        if name.lower() == "content-length":
            return len(rest) >= int(value)
    return False


def test_declared_oversize_content_length_is_413_before_the_body(
    api: LiveApi, headers: dict
) -> None:
    head = (
        "POST /api/indicators/import HTTP/1.1\r\n"
        "Host: localhost\r\n"
        f"Authorization: {headers['Authorization']}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {LIMIT + 1}\r\n"
        "Connection: close\r\n\r\n"
    )
    status, fields, payload = _raw_request(api, head, b'{"Indicators": [')
    assert status == 413
    assert fields["content-type"] == "application/json"
    assert b'"error"' in payload


def test_body_just_under_the_limit_is_read(api: LiveApi, headers: dict) -> None:
    padding = "x" * (LIMIT - 4 * 1024)
    payload = f'{{"Indicators": [], "padding": "{padding}"}}'.encode()
    assert len(payload) < LIMIT
    response = api.http.post(
        "/api/indicators/import",
        content=payload,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text[:200]
    assert response.json() == {"value": []}


# -- injection attempts in $filter ----------------------------------------------------------------

INJECTIONS = [
    "indicatorValue eq 'x'' or ''1''=''1'",
    "indicatorValue eq 'x' or '1'='1'",
    "indicatorValue eq 'x' or 1 eq 1",
    "'; DROP TABLE indicators; --",
    "title eq '''; DROP TABLE indicators; --'",
    "title eq 'a'; DELETE FROM indicators",
    "title eq 'a') or (1=1",
    "id eq 1 or 1=1",
    "id eq 1; --",
    "id eq 1 union select * from applications",
    "title eq 'unbalanced",
    "title eq ''unbalanced'",
    "title eq 'a'''",
    "(title eq 'a'",
    "title eq 'a'))",
    "nosuchfield eq 'a'",
    "secret_hash eq 'a'",
    "title/any(t: t eq 'a')",
    "rbacGroupNames eq 'a'",
    "rbacGroupNames/any(g: g eq 'x'') or (''1''=''1')",
    "substringof('a', title)",
    "title eq @p1",
    "title eq 'a' and",
    "title eq '\x00'",
    "title eq '%'",
    "title eq '_'",
    "startswith(title, '%')",
    "contains(title, '_')",
    "contains(title, '\\')",
    "title eq 'a' or title eq 'b' or",
    "id eq 99999999999999999999999",
    "id eq -1",
    "expirationTime ge 2024-13-45T99:99:99Z",
    "expirationTime ge 'not a date'",
    "not",
    "()",
    "[]",
    "title in ()",
    "title in ('a'",
    "$filter=title eq 'a'",
]
# Huge, deep or long filters, kept under 16 KiB of URL (see the report on h11 limits).
HUGE = [
    " or ".join(f"id eq {n}" for n in range(1001)),
    "(" * 101 + "id eq 1" + ")" * 101,
    "not " * 101 + "id eq 1",
    "title eq '" + "a" * 12000 + "'",
    "id in (" + ",".join(str(n) for n in range(1200)) + ")",
]


def _snapshot(api: LiveApi) -> tuple[int, int]:
    return api.instance.indicators.active_count(), api.instance.indicators.last_sequence()


@pytest.mark.parametrize("expression", INJECTIONS + HUGE, ids=range(len(INJECTIONS + HUGE)))
def test_injection_attempts_are_harmless(api: LiveApi, headers: dict, expression: str) -> None:
    marker = api.submit(headers, title="x' or '1'='1")
    other = api.submit(headers)
    before = _snapshot(api)
    response = api.http.get(
        f"/api/indicators?%24filter={quote_plus(expression, safe='')}", headers=headers
    )
    if response.status_code == 200:
        rows = response.json()["value"]
        # nothing here can select every row: the only literal match is the marker's title
        assert other["id"] not in {r["id"] for r in rows}, expression
    else:
        assert_mde_error(response, 400, "ODataError")
    assert _snapshot(api) == before
    for indicator in (marker, other):
        got = api.http.get(f"/api/indicators/{indicator['id']}", headers=headers)
        assert without_sightings(got.json()) == indicator


def test_injection_text_is_matched_literally(api: LiveApi, headers: dict) -> None:
    title = "x' or '1'='1; DROP TABLE indicators; --"
    created = api.submit(headers, title=title)
    decoy = api.submit(headers, title="x")
    expression = "title eq '" + title.replace("'", "''") + "'"
    got = api.http.get("/api/indicators", params={"$filter": expression}, headers=headers)
    assert [r["id"] for r in got.json()["value"]] == [created["id"]]
    for pattern in ("%", "_"):
        like = api.http.get(
            "/api/indicators", params={"$filter": f"contains(title, '{pattern}')"}, headers=headers
        )
        assert decoy["id"] not in {r["id"] for r in like.json()["value"]}


def test_a_write_still_works_after_the_attempts(api: LiveApi, headers: dict) -> None:
    created = api.submit(headers, **{"title": "'; DROP TABLE indicators; --"})
    response = api.http.get(f"/api/indicators/{created['id']}", headers=headers)
    assert response.json()["title"] == "'; DROP TABLE indicators; --"
    assert body()["indicatorValue"] != created["indicatorValue"]


# -- ids that are not ids ---------------------------------------------------------------------


@pytest.mark.parametrize("odd", [True, False, 1.0, 1.5, [], {}, "1e3", "-1"])
def test_submit_id_must_be_digits_or_an_integer(api: LiveApi, headers: dict, odd: object) -> None:
    target = api.submit(headers)
    sent = body(id=odd)
    error = assert_mde_error(api.http.post("/api/indicators", json=sent, headers=headers), 400)
    assert error["target"] == "id"
    got = api.http.get(f"/api/indicators/{target['id']}", headers=headers).json()
    assert without_sightings(got) == target


@pytest.mark.parametrize("odd", [True, 1.0, None, [1]])
def test_batch_delete_ids_must_be_digits_or_integers(start_api: StartApi, odd: object) -> None:
    api = start_api()  # of its own: indicator 1 is the one a lax `true` would have deleted
    headers = api.app_headers()
    first = api.submit(headers)
    assert first["id"] == "1"
    response = api.http.post(
        "/api/indicators/BatchDelete", json={"IndicatorIds": [odd]}, headers=headers
    )
    error = assert_mde_error(response, 400, "InvalidRequestBody")
    assert error["target"] == "IndicatorIds.0"
    assert api.http.get("/api/indicators/1", headers=headers).json()["state"] == "active"
