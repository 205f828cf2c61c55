"""Entity pages over HTTP: files, certificates, addresses, domains, URLs and devices, built
from telemetry scanned by the detection engine, with decisions, indicators, alerts, actions,
and what analysts of one device group may see."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest

from iocd.domain.principal import Role
from tests.web.entity_support import World, build_world
from tests.web.portal_support import LivePortal, start_portal


@pytest.fixture(scope="module")
def shared_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    """A server of this module's own: building the world moves its clock."""
    live = start_portal(tmp_path_factory.mktemp("portal"))
    live.user(name="admin")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def world(shared_portal: LivePortal) -> World:
    return build_world(shared_portal)


def _client(portal: LivePortal, role: Role = Role.SECURITY_ADMINISTRATOR, groups=()):  # type: ignore[no-untyped-def]
    name, _ = portal.user(role, groups=groups)
    client = portal.client()
    portal.sign_in(client, name)
    return client


def test_file_page_shows_telemetry_decision_indicators_alerts_and_actions(
    shared_portal: LivePortal, world: World
) -> None:
    client = _client(shared_portal)
    response = client.get(f"/files/{world.sha256.upper()}")
    assert response.status_code == 200, response.text
    page = response.text
    assert world.sha256 in page and world.sha1 in page and world.md5 in page
    assert "invoice.exe" in page and r"C:\Users\pat\Downloads\invoice.exe" in page
    assert world.thumbprint in page
    assert world.device_a in page and world.device_b in page
    assert "precedence trace" in page
    assert f'href="/indicators/{world.file_indicator.id}"' in page  # related (MD5) indicator
    assert "/alerts/" in page  # the MD5 indicator's alerts on this file
    new = "/indicators/new?" + urlencode(
        {
            "type": "FileSha256",
            "value": world.sha256,
            "action": "Block",
            "title": f"Block file {world.sha256}",
        }
    )
    assert new.replace("&", "&amp;") in page
    assert "BlockAndRemediate" in page
    assert page.count("<h1") == 1


def test_sha1_and_md5_pages_and_bad_values(shared_portal: LivePortal, world: World) -> None:
    client = _client(shared_portal, Role.READ_ONLY)
    for value in (world.sha1, world.md5):
        page = client.get(f"/files/{value}").text
        assert world.sha256 in page
        assert "/indicators/new?" not in page  # read-only: no actions
    assert client.get("/files/nothex").status_code == 400
    assert client.get("/files/" + "z" * 64).status_code == 400
    assert client.get("/domains/-bad-").status_code == 400


def test_network_pages(shared_portal: LivePortal, world: World) -> None:
    client = _client(shared_portal)
    page = client.get(f"/domains/{world.domain}").text
    assert f"x0.{world.domain}" in page  # a subdomain seen
    assert "Audit" in page and f'href="/indicators/{world.domain_indicator.id}"' in page
    assert "An indicator for this value exists" in page
    assert "Warn" in page and "BlockAndRemediate" not in page
    page = client.get(f"/ips/{world.ip}").text
    assert world.domain in page and "443" in page
    cidr = client.get("/ips/" + quote("203.0.113.0/24", safe=""))
    assert cidr.status_code == 200 and world.ip in cidr.text
    page = client.get("/urls?" + urlencode({"u": world.url})).text
    assert world.url.replace("&", "&amp;") in page or world.url in page
    page = client.get(f"/certificates/{world.thumbprint}").text
    assert world.sha256 in page and "invoice.exe" in page


def test_device_page(shared_portal: LivePortal, world: World) -> None:
    client = _client(shared_portal)
    page = client.get(f"/devices/{world.device_a}").text
    assert world.group_a in page and "invoice.exe" in page and "/alerts/" in page
    assert client.get("/devices/no-such-device").status_code == 404


def test_an_analyst_sees_only_their_groups(shared_portal: LivePortal, world: World) -> None:
    client = _client(shared_portal, Role.ANALYST, groups=(world.group_a,))
    page = client.get(f"/files/{world.sha256}").text
    assert world.device_a in page and world.device_b not in page
    assert client.get(f"/devices/{world.device_a}").status_code == 200
    refused = client.get(f"/devices/{world.device_b}")
    assert refused.status_code == 403


def test_entity_pages_need_a_session(shared_portal: LivePortal) -> None:
    response = shared_portal.client().get("/files/" + "a" * 64)
    assert response.status_code == 303 and "/signin" in response.headers["location"]
