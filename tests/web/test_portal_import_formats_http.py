"""The portal's import page with STIX 2.1 bundles and MISP events: their options, item numbers,
skips listed apart from failures, a broken document (nothing imported), and the caller's scope."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from iocd.domain.principal import Role
from tests.api.api_support import ADMIN
from tests.web.indicator_support import signed_in_admin
from tests.web.portal_support import LivePortal, csrf_of, start_portal

GOLDEN = Path(__file__).resolve().parents[1] / "codecs" / "golden"
ROW = re.compile(r'<tr class="result-(\w+)">\s*<td class="num">(\d+)</td>\s*<td>(\w+)</td>')


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[LivePortal]:
    """A server of its own: golden files hold the same values in every test."""
    live = start_portal(tmp_path / "data")
    yield live
    live.stop()


@pytest.fixture
def admin(portal: LivePortal) -> httpx.Client:
    return signed_in_admin(portal)[0]


def start(client: httpx.Client, data: bytes, name: str, **fields: Any) -> httpx.Response:
    token = csrf_of(client.get("/indicators/import"))
    return client.post(
        "/indicators/import",
        data={"csrf_token": token, **fields},
        files={"file": (name, data, "application/json")},
    )


def finished(client: httpx.Client, started: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The job page and its status, once the job is done."""
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    for _ in range(200):
        status = client.get(url + ".json").json()
        if status["done"]:
            return client.get(url).text, status
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def summary(page: str) -> str:
    found = re.search(r'id="import-summary">(.*?)</p>', page, re.S)
    assert found, page[:500]
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


def test_stix_items_are_numbered_and_skips_shown_apart(admin: httpx.Client) -> None:
    bundle = (GOLDEN / "stix" / "malicious-email-indicator-with-attachment.json").read_bytes()
    page, status = finished(admin, start(admin, bundle, "email.json"))
    assert "2 rows: 0 imported, 0 updated, 0 unchanged, 0 failed, 2 skipped." in summary(page)
    assert ROW.findall(page) == [("skipped", "3", "Skipped"), ("skipped", "4", "Skipped")]
    assert '<th scope="col" class="num">Item</th>' in page and "MATCHES" in page
    assert (status["failed"], status["skipped"]) == (0, 2)
    assert [(i["item"], i["outcome"]) for i in status["items"]] == [(3, "skipped"), (4, "skipped")]


def test_misp_options_apply_to_every_indicator(portal: LivePortal, admin: httpx.Client) -> None:
    group = portal.group()
    event = (GOLDEN / "misp" / "to_delete2.json").read_bytes()
    fields = {
        "format": "misp",
        "action": "Block",
        "severity": "High",
        "expires": "30d",
        "groups": group,
    }
    page, status = finished(admin, start(admin, event, "event.json", **fields))
    assert "128 rows: 110 imported, 0 updated, 0 unchanged, 3 failed, 15 skipped." in summary(page)
    rows = ROW.findall(page)
    assert [r[0] for r in rows[:18]] == ["failed"] * 3 + ["skipped"] * 15
    assert rows[0][1] == "91" and "guardrail" in page
    stored = {i["id"] for i in status["items"] if i["outcome"] == "created"}
    indicators = [portal.instance.indicators.get(int(i), ADMIN) for i in stored]
    assert {i.fields.action.value for i in indicators} == {"Block"}
    assert {i.fields.severity.value for i in indicators} == {"High"}
    assert {i.fields.rbac_group_names for i in indicators} == {(group,)}
    assert all(i.fields.expiration_time for i in indicators)
    assert {i.created_by_source for i in indicators} == {"Import"}


def test_include_non_ids_and_a_broken_document(
    admin: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    sample = (GOLDEN / "misp" / "misp_event.json").read_bytes()
    _, without = finished(admin, start(admin, sample, "e.json"))
    _, including = finished(admin, start(admin, sample, "e.json", include_non_ids="on"))
    assert (without["skipped"], including["skipped"]) == (2, 1)
    cut = (GOLDEN / "stix" / "indicators-for-C2-with-COA.json").read_bytes()[:-40]
    page, status = finished(admin, start(admin, cut, "cut.json", format="stix"))
    assert status["error"] and "not valid JSON" in status["error"]
    assert "The import stopped" in page and status["rows"] == 0
    assert "import" in caplog.text and "of cut.json stopped" in caplog.text  # and in the log


def test_options_are_checked_before_the_job_starts(portal: LivePortal, admin: httpx.Client) -> None:
    bundle = (GOLDEN / "stix" / "indicators-for-C2-with-COA.json").read_bytes()
    bad = start(admin, bundle, "c2.json", expires="soon")
    assert bad.status_code == 400 and "expires" in bad.text
    name, _ = portal.user(Role.READ_ONLY)
    reader = portal.client()
    portal.sign_in(reader, name)
    refused = start(reader, bundle, "c2.json")
    assert refused.status_code == 403 and "read-only role" in refused.text
    analyst_name, _ = portal.user(Role.ANALYST, (portal.group(),))
    analyst = portal.client()
    portal.sign_in(analyst, analyst_name)
    everywhere = start(analyst, bundle, "c2.json")
    assert everywhere.status_code == 403 and "all devices" in everywhere.text
