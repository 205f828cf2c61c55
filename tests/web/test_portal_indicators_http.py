"""The Indicators area over plain HTTP (no browser, no JavaScript): the table's filters and
paging, the add/edit form and its live check, guardrail overrides, deleting, import and export."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from iocd.domain.principal import Principal, Role
from iocd.domain.types import IndicatorType
from tests.factories import value_for
from tests.web.indicator_support import post_form, seed, signed_in_admin
from tests.web.portal_support import LivePortal, csrf_of

ROW_IDS = re.compile(r'name="ids" value="(\d+)"')


@pytest.fixture
def admin(shared_portal: LivePortal) -> tuple[httpx.Client, str]:
    return signed_in_admin(shared_portal)


def test_the_table_pages_by_keyset_and_keeps_its_filters(
    shared_portal: LivePortal, admin: tuple[httpx.Client, str]
) -> None:
    client, name = admin
    ids = seed(shared_portal, name, 31_000, 60)
    first = client.get("/indicators", params={"creator": name, "size": 25})
    assert first.status_code == 200
    assert ROW_IDS.findall(first.text) == [str(i) for i in ids[:25]]
    assert "more follow" in first.text
    next_url = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert next_url and f"after={ids[24]}" in next_url.group(1)
    assert f"creator={name}" in next_url.group(1)
    second = client.get(next_url.group(1).replace("&amp;", "&"))
    assert ROW_IDS.findall(second.text) == [str(i) for i in ids[25:50]]
    third = client.get("/indicators", params={"creator": name, "size": 25, "after": ids[49]})
    assert ROW_IDS.findall(third.text) == [str(i) for i in ids[50:]]
    assert 'rel="next"' not in third.text
    assert (
        ROW_IDS.findall(client.get("/indicators", params={"creator": name, "tab": "ips"}).text)
        == []
    )
    files = client.get("/indicators", params={"creator": name, "tab": "files", "size": 200})
    assert len(ROW_IDS.findall(files.text)) == 60
    assert 'aria-current="page">File hashes' in files.text


def test_sorting_search_and_the_expiry_filter(
    shared_portal: LivePortal, admin: tuple[httpx.Client, str]
) -> None:
    client, name = admin
    now = shared_portal.clock.now()
    soon = seed(shared_portal, name, 32_000, 2, expiration_time=now + timedelta(days=3))
    later = seed(shared_portal, name, 32_100, 1, expiration_time=now + timedelta(days=60))
    never = seed(shared_portal, name, 32_200, 1)
    week = client.get("/indicators", params={"creator": name, "expires": "7d"})
    assert ROW_IDS.findall(week.text) == [str(i) for i in soon]
    assert ROW_IDS.findall(client.get(f"/indicators?creator={name}&expires=never").text) == [
        str(never[0])
    ]
    by_value = client.get(
        "/indicators", params={"creator": name, "sort": "indicatorValue", "dir": "desc"}
    )
    shown = ROW_IDS.findall(by_value.text)
    assert shown == [str(i) for i in [*never, *later, *reversed(soon)]]
    assert 'aria-sort="descending"' in by_value.text
    value = value_for(IndicatorType.FILE_SHA256, 32_100)
    exact = client.get("/indicators", params={"q": value.upper()})
    assert ROW_IDS.findall(exact.text) == [str(later[0])]
    words = client.get("/indicators", params={"creator": name, "q": "INDICATOR 3220"})
    assert ROW_IDS.findall(words.text) == [str(never[0])]


def test_the_live_check_answers_the_canonicalpost_form(admin: tuple[httpx.Client, str]) -> None:
    client, _ = admin
    ok = client.get("/indicators/validate", params={"value": "203.0.113.9/32"}).json()
    assert ok == {"type": "IpAddress", "canonical": "203.0.113.9", "error": None, "homograph": None}
    hashed = client.get(
        "/indicators/validate",
        params={"type": "FileMd5", "value": " D41D8CD98F00B204E9800998ECF8427E "},
    ).json()
    assert hashed["canonical"] == "d41d8cd98f00b204e9800998ecf8427e"
    bad = client.get("/indicators/validate", params={"type": "FileSha1", "value": "abc"}).json()
    assert bad["canonical"] is None and "40" in bad["error"]
    mixed = client.get("/indicators/validate", params={"value": "https://аpple.com/x"}).json()
    assert mixed["canonical"].startswith("https://xn--") and "homograph" in mixed["homograph"]


def test_add_without_javascript_then_edit_and_see_the_history(
    shared_portal: LivePortal, admin: tuple[httpx.Client, str]
) -> None:
    client, name = admin
    page = client.get("/indicators/new?type=DomainName&value=Evil.Example.COM&action=Block&title=T")
    assert page.status_code == 200
    assert 'value="Evil.Example.COM"' in page.text and "evil.example.com" in page.text
    assert page.text.count("<legend>") >= 5 and 'name="csrf_token"' in page.text
    created = post_form(
        client,
        "/indicators/new",
        {
            "value": "Evil-Http.Example.com",
            "action": "Block",
            "title": "Bad domain",
            "severity": "High",
            "mitre_techniques": "t1071, T1568",
            "expiry": "at",
            "expires_at": "2031-01-02T03:04",
            "scope": "all",
        },
    )
    assert created.status_code == 303, created.text
    url = created.headers["location"]
    details = client.get(url)
    assert "evil-http.example.com" in details.text and "2031-01-02 03:04:00 UTC" in details.text
    assert "T1071, T1568" in details.text and "created" in details.text
    indicator_id = int(url.rsplit("/", 1)[1])
    edit = client.get(f"{url}/edit")
    assert 'value="Bad domain"' in edit.text
    changed = post_form(
        client,
        f"{url}/edit",
        {
            "value": "evil-http.example.com",
            "indicator_type": "DomainName",
            "action": "Audit",
            "title": "Renamed",
            "expiry": "never",
            "scope": "all",
        },
    )
    assert changed.status_code == 303
    stored = shared_portal.instance.indicators.get(
        indicator_id, Principal(name, Role.SECURITY_ADMINISTRATOR, "Portal")
    )
    assert stored.fields.title == "Renamed" and stored.fields.expiration_time is None
    assert stored.fields.generate_alert  # Audit always alerts
    assert "Renamed" in client.get(url).text and "updated" in client.get(url).text


def test_bad_input_and_a_guardrail_refusal_come_back_in_the_pane(
    admin: tuple[httpx.Client, str],
) -> None:
    client, _ = admin
    bad = post_form(
        client, "/indicators/new", {"value": "not a value!", "action": "Block", "title": "x"}
    )
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert 'value="not a value!"' in bad.text
    block = {"value": "8.8.8.8", "action": "Block", "title": "Resolver", "scope": "all"}
    refused = post_form(client, "/indicators/new", block)
    assert refused.status_code == 400
    assert "Refused by a guardrail" in refused.text and 'name="override"' in refused.text
    no_reason = post_form(client, "/indicators/new", {**block, "override": "on"})
    assert no_reason.status_code == 400 and "needs a justification" in no_reason.text
    forced = post_form(
        client, "/indicators/new", {**block, "override": "on", "justification": "lab test"}
    )
    assert forced.status_code == 303
    assert "lab test" in client.get(forced.headers["location"]).text


def test_a_certificate_upload_becomes_its_thumbprint(admin: tuple[httpx.Client, str]) -> None:
    from tests.e2e.certificates import self_signed_pem

    client, _ = admin
    pem, thumbprint = self_signed_pem("upload.example")
    token = csrf_of(client.get("/indicators/new"))
    response = client.post(
        "/indicators/new",
        data={"action": "Block", "title": "Bad signer", "scope": "all", "csrf_token": token},
        files={"certificate": ("bad.pem", pem, "application/x-pem-file")},
    )
    assert response.status_code == 303, response.text
    assert thumbprint in client.get(response.headers["location"]).text


def test_writes_need_the_token_and_a_writing_role(shared_portal: LivePortal) -> None:
    reader, _ = shared_portal.user(Role.READ_ONLY)
    client = shared_portal.client()
    shared_portal.sign_in(client, reader)
    listing = client.get("/indicators")
    assert "Add an indicator" not in listing.text and "Delete selected" not in listing.text
    assert client.post("/indicators/new", data={"value": "1.2.3.4"}).status_code == 403
    refused = post_form(
        client,
        "/indicators/new",
        {"value": "203.0.113.5", "action": "Audit", "title": "x", "scope": "all"},
    )
    assert refused.status_code == 403 and "read-only" in refused.text


def test_an_analyst_sees_only_their_groups(shared_portal: LivePortal) -> None:
    ours, theirs = shared_portal.group(), shared_portal.group()
    owner, _ = shared_portal.user(Role.SECURITY_ADMINISTRATOR)
    mine = seed(shared_portal, owner, 33_000, 1, rbac_group_names=(ours,))
    other = seed(shared_portal, owner, 33_001, 1, rbac_group_names=(theirs,))
    analyst, _ = shared_portal.user(Role.ANALYST, groups=(ours,))
    client = shared_portal.client()
    shared_portal.sign_in(client, analyst)
    shown = ROW_IDS.findall(client.get("/indicators", params={"creator": owner}).text)
    assert shown == [str(mine[0])]
    assert client.get(f"/indicators/{other[0]}").status_code == 403
    assert client.get(f"/indicators/{other[0]}/edit").status_code == 403
    pane = client.get("/indicators/new").text
    assert 'value="all"' not in pane and theirs not in pane and ours in pane


def test_delete_selected_asks_first(
    shared_portal: LivePortal, admin: tuple[httpx.Client, str]
) -> None:
    client, name = admin
    ids = seed(shared_portal, name, 34_000, 3)
    token = csrf_of(client.get("/indicators"))
    chosen = {"ids": [str(ids[0]), str(ids[2])], "csrf_token": token, "back": "/indicators"}
    confirm = client.post("/indicators/delete", data=chosen)
    assert confirm.status_code == 200 and "Delete 2 indicators?" in confirm.text
    done = client.post("/indicators/delete", data={**chosen, "confirm": "yes"})
    assert done.status_code == 303
    assert ROW_IDS.findall(client.get(f"/indicators?creator={name}").text) == [str(ids[1])]
    one = client.post(f"/indicators/{ids[1]}/delete", data={"csrf_token": token})
    assert one.status_code == 303
    assert ROW_IDS.findall(client.get(f"/indicators?creator={name}").text) == []
