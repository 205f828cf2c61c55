"""Outputs for enforcement points over HTTP: every URL, bearer and Basic credentials, roles,
ETag / Last-Modified polling (304 until something changes), caps and bad requests."""

from __future__ import annotations

import base64

import httpx
import pytest

from iocd.domain.outputs import catalogue
from iocd.domain.principal import Role
from tests.api.api_support import LiveApi, StartApi, assert_mde_error

DOMAIN = "evil-outputs.example"


@pytest.fixture(scope="module")
def server(start_api: StartApi) -> LiveApi:
    """A server of its own: these tests read whole lists."""
    return start_api()


@pytest.fixture(scope="module")
def headers(server: LiveApi) -> dict[str, str]:
    headers = server.app_headers()
    server.submit(headers, indicatorType="DomainName", indicatorValue=DOMAIN, severity="High")
    server.submit(headers, indicatorType="DomainName", indicatorValue="low.example", severity="Low")
    server.submit(headers)  # a SHA-256
    return headers


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def get(server: LiveApi, path: str, headers: dict[str, str], **params: object) -> httpx.Response:
    return server.http.get("/api/outputs" + path, headers=headers, params=params)


def test_every_output_is_served(server: LiveApi, headers: dict[str, str]) -> None:
    listing = get(server, "", headers)
    assert listing.status_code == 200, listing.text
    urls = [item["url"] for item in listing.json()["value"]]
    assert len(urls) == len(catalogue())
    for url in urls:
        response = server.http.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)
        assert response.headers["content-type"].startswith(("text/plain", "text/dns"))
        assert response.headers["etag"].startswith('"')
        assert "last-modified" in response.headers
    assert DOMAIN in get(server, "/edl/domain.txt", headers).text.splitlines()
    zone = get(server, "/rpz.zone", headers).text
    assert f"*.{DOMAIN} CNAME ." in zone
    rules = server.http.get("/api/v1.0/outputs/suricata.rules", headers=headers).text
    assert f'content:".{DOMAIN}"' in rules
    assert "filesha256:iocd-sha256-drop.lst" in rules
    assert len(get(server, "/suricata/iocd-sha256-drop.lst", headers).text.split()) == 1
    assert ":*:iocd.Block.FileSha256." in get(server, "/clamav.hsb", headers).text


def test_pollers_get_304_until_something_changes(server: LiveApi, headers: dict[str, str]) -> None:
    first = get(server, "/edl/domain.txt", headers)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    same = get(server, "/edl/domain.txt", {**headers, "If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    assert (
        get(server, "/edl/domain.txt", {**headers, "If-Modified-Since": modified}).status_code
        == 304
    )
    other = get(server, "/edl/domain.txt", {**headers, "If-None-Match": etag}, cap=1)
    assert other.status_code == 200  # other options, other ETag
    server.submit(headers, indicatorType="DomainName", indicatorValue="new-outputs.example")
    changed = get(server, "/edl/domain.txt", {**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "new-outputs.example" in changed.text


def test_cap_is_reported(server: LiveApi, headers: dict[str, str]) -> None:
    response = get(server, "/edl/domain.txt", headers, cap=1, comments="true")
    lines = response.text.splitlines()
    entries = [line for line in lines if not line.startswith("#")]
    assert len(entries) == 1 and entries[0] != "low.example"
    omitted = int(response.headers["x-iocd-omitted-by-cap"])
    assert omitted >= 1
    assert f"# cap: 1; left out by the cap: {omitted} " in response.text


def test_basic_credentials_for_firewalls(server: LiveApi, headers: dict[str, str]) -> None:
    client_id, secret = server.register_app()
    assert get(server, "/edl/domain.txt", basic(client_id, secret)).status_code == 200
    name, user_headers = server.user(Role.READ_ONLY)
    token = user_headers["Authorization"].removeprefix("Bearer ")
    assert get(server, "/edl/domain.txt", basic(name, token)).status_code == 200
    assert get(server, "/edl/domain.txt", user_headers).status_code == 200
    refused = get(server, "/edl/domain.txt", basic(client_id, "wrong"))
    assert_mde_error(refused, 401, "Unauthorized")
    assert "Basic" in refused.headers["www-authenticate"]
    assert_mde_error(get(server, "/edl/domain.txt", basic("someone", token)), 401)
    missing = get(server, "/edl/domain.txt", {})
    assert_mde_error(missing, 401)
    assert "Basic" in missing.headers["www-authenticate"]


def test_callers_who_cannot_see_everything_are_refused(server: LiveApi) -> None:
    group = server.group()
    _, analyst = server.user(Role.ANALYST, (group,))
    assert_mde_error(get(server, "/clamav.hsb", analyst), 403, "Forbidden")


def test_bad_requests(server: LiveApi, headers: dict[str, str]) -> None:
    error = assert_mde_error(get(server, "/edl/ipv4.txt", headers), 400)
    assert "unknown EDL type 'ipv4'" in error["message"]
    error = assert_mde_error(get(server, "/edl/ip.txt", headers, group="Nope"), 400)
    assert "unknown device group 'Nope'" in error["message"]
    assert_mde_error(get(server, "/edl/ip.txt", headers, cap="many"), 400)
    assert_mde_error(get(server, "/edl/ip.txt", headers, cap=-1), 400)
    error = assert_mde_error(get(server, "/suricata/nope.lst", headers), 400)
    assert "unknown Suricata list" in error["message"]
    assert_mde_error(get(server, "/suricata.rules", headers, domains="both"), 400)


def test_device_group_views(server: LiveApi, headers: dict[str, str]) -> None:
    group = server.group()
    server.submit(
        headers,
        indicatorType="DomainName",
        indicatorValue="scoped-outputs.example",
        rbacGroupNames=[group],
    )
    assert "scoped-outputs.example" not in get(server, "/edl/domain.txt", headers).text
    scoped = server.http.get(
        "/api/outputs/edl/domain.txt", headers=headers, params=[("group", group)]
    )
    assert "scoped-outputs.example" in scoped.text
    assert DOMAIN in scoped.text
