"""`POST /api/indicators/import/file`: CSV, lists, STIX and MISP files as the body, each item's
result, gzip, size limit, bad documents (nothing imported) and the caller's scope."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from iocd.api.routes import file_imports
from iocd.domain.accounts import AppRole
from iocd.domain.principal import Role
from tests.api.api_support import LiveApi, StartApi, assert_mde_error, sha256

GOLDEN = Path(__file__).resolve().parents[1] / "codecs" / "golden"
URL = "/api/indicators/import/file"


@pytest.fixture
def fresh(start_api: StartApi) -> LiveApi:
    """A server of its own: golden files hold the same values in every test."""
    return start_api()


def post_file(
    api: LiveApi,
    headers: dict[str, str],
    data: bytes,
    media: str = "application/json",
    **params: Any,
) -> httpx.Response:
    return api.http.post(
        URL, content=data, params=params, headers={**headers, "Content-Type": media}
    )


def imported(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()  # type: ignore[no-any-return]


def test_stix_bundle_is_detected_and_each_item_reported(fresh: LiveApi) -> None:
    headers = fresh.app_headers()
    bundle = (GOLDEN / "stix" / "malicious-email-indicator-with-attachment.json").read_bytes()
    got = imported(post_file(fresh, headers, bundle))
    assert (got["rows"], got["created"], got["failed"], got["skipped"]) == (2, 0, 0, 2)
    assert [(i["item"], i["outcome"]) for i in got["items"]] == [(3, "skipped"), (4, "skipped")]
    assert "MATCHES" in got["items"][0]["reason"] and got["itemsTruncated"] is False
    c2 = (GOLDEN / "stix" / "indicators-for-C2-with-COA.json").read_bytes()
    got = imported(post_file(fresh, headers, c2, "application/stix+json", format="stix"))
    assert got["created"] == 2 and all(i["id"] for i in got["items"])
    again = imported(post_file(fresh, headers, c2, "application/stix+json"))
    assert (again["created"], again["unchanged"]) == (0, 2)
    assert [i["id"] for i in again["items"]] == [i["id"] for i in got["items"]]


def test_misp_event_with_defaults_guardrails_and_skips(fresh: LiveApi) -> None:
    headers = fresh.app_headers()
    event = (GOLDEN / "misp" / "to_delete2.json").read_bytes()
    got = imported(post_file(fresh, headers, event, action="Block", severity="High", expires="30d"))
    assert (got["created"], got["failed"], got["skipped"]) == (110, 3, 15)
    refused = [i for i in got["items"] if i["outcome"] == "failed"]
    assert refused[0]["item"] == 91 and "guardrail" in refused[0]["reason"]
    listed = fresh.http.get(
        "/api/indicators",
        params={"$filter": "action eq 'Block'", "$count": "true"},
        headers=headers,
    ).json()
    stored_ids = {i["id"] for i in got["items"] if i["outcome"] == "created"}
    assert listed["@odata.count"] == len(stored_ids) == 104  # repeated values: one indicator
    assert {r["severity"] for r in listed["value"]} == {"High"}
    assert all(r["expirationTime"] for r in listed["value"])
    assert {r["createdBySource"] for r in listed["value"]} == {"Import"}
    sample = (GOLDEN / "misp" / "misp_event.json").read_bytes()
    assert imported(post_file(fresh, headers, sample))["skipped"] == 2
    with_non_ids = imported(post_file(fresh, headers, sample, includeNonIds="true"))
    assert with_non_ids["skipped"] == 1


def test_csv_and_plain_list(api: LiveApi) -> None:
    headers = api.app_headers()
    good = sha256()
    csv_text = (
        "IndicatorType,IndicatorValue,Action,Title,Description\r\n"
        f"FileSha256,{good},Audit,good,good\r\n"
        "FileSha1,xyz,Audit,bad hash,bad\r\n"
    )
    got = imported(post_file(api, headers, csv_text.encode(), "text/csv"))
    assert [(i["item"], i["outcome"]) for i in got["items"]] == [(2, "created"), (3, "failed")]
    assert (
        got["items"][0]["indicatorValue"] == good and "IndicatorValue" in got["items"][1]["reason"]
    )
    value = sha256()
    listed = imported(
        post_file(
            api,
            headers,
            f"# feed\n{value}\nnot-a-value\n".encode(),
            "text/plain",
            type="FileSha256",
            title="Feed",
            action="Block",
        )
    )
    assert [(i["item"], i["outcome"]) for i in listed["items"]] == [(2, "created"), (3, "failed")]
    stored = api.http.get(f"/api/indicators/{listed['items'][0]['id']}", headers=headers).json()
    assert (stored["title"], stored["action"], stored["indicatorValue"]) == ("Feed", "Block", value)


def test_gzip_body(api: LiveApi) -> None:
    headers = api.app_headers()
    text = "\n".join(sha256() for _ in range(3)).encode()
    got = imported(
        api.http.post(
            URL,
            content=gzip.compress(text),
            params={"type": "FileSha256"},
            headers={**headers, "Content-Type": "text/plain", "Content-Encoding": "gzip"},
        )
    )
    assert got["created"] == 3
    also = imported(post_file(api, headers, gzip.compress(text), "application/gzip"))
    assert also["unchanged"] == 3
    broken = post_file(api, headers, gzip.compress(text)[:-12], "application/gzip")
    assert "truncated" in assert_mde_error(broken, 400, "InvalidRequestBody")["message"]


def test_size_limit_is_a_clear_413(api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = api.app_headers()
    monkeypatch.setattr(file_imports, "MAX_FILE_BYTES", 1_000)
    big = ("\n".join(sha256() for _ in range(40))).encode()
    error = assert_mde_error(post_file(api, headers, big, "text/plain"), 413)
    assert "larger than" in error["message"] and "iocd indicators import" in error["message"]
    bomb = gzip.compress(b"0" * 100_000)  # small on the wire, too large once decompressed
    assert_mde_error(post_file(api, headers, bomb, "application/gzip"), 413)


def test_bad_documents_import_nothing(fresh: LiveApi) -> None:
    headers = fresh.app_headers()
    cut = (GOLDEN / "stix" / "indicators-for-C2-with-COA.json").read_bytes()[:-40]
    error = assert_mde_error(post_file(fresh, headers, cut, format="stix"), 400)
    assert "not valid JSON" in error["message"]
    error = assert_mde_error(post_file(fresh, headers, b'{"Event": {"info": ', format="misp"), 400)
    assert "not valid JSON" in error["message"]
    not_bundle = assert_mde_error(post_file(fresh, headers, b'{"type": "x"}', format="stix"), 400)
    assert "not a STIX bundle" in not_bundle["message"]
    assert fresh.http.get("/api/indicators", headers=headers).json()["value"] == []


def test_bad_requests(api: LiveApi) -> None:
    headers = api.app_headers()
    assert_mde_error(post_file(api, headers, b"1.2.3.4\n", "text/plain", format="xml"), 400)
    bad_action = post_file(api, headers, b"{}", format="stix", action="Explode")
    assert assert_mde_error(bad_action, 400)["target"] == "action"
    bad_expiry = post_file(api, headers, b"1.2.3.4\n", "text/plain", expires="soon")
    assert assert_mde_error(bad_expiry, 400)["target"] == "expires"
    form = api.http.post(URL, files={"file": ("a.txt", b"1.2.3.4\n")}, headers=headers)
    assert "--data-binary" in assert_mde_error(form, 415)["message"]
    assert_mde_error(post_file(api, headers, b"", "text/plain"), 400)
    assert_mde_error(api.http.post(URL, content=b"1.2.3.4\n"), 401)


def test_scope_is_checked_before_reading(api: LiveApi) -> None:
    group = api.group()
    _, read_only = api.user(Role.READ_ONLY)
    assert_mde_error(post_file(api, read_only, b"1.2.3.4\n", "text/plain"), 403, "Forbidden")
    _, analyst = api.user(Role.ANALYST, (group,))
    value = sha256()
    everywhere = post_file(api, analyst, value.encode(), "text/plain", format="list")
    assert "all devices" in assert_mde_error(everywhere, 403)["message"]
    other = post_file(api, analyst, value.encode(), "text/plain", group=api.group())
    assert "outside the scope" in assert_mde_error(other, 403)["message"]
    mine = imported(post_file(api, analyst, value.encode(), "text/plain", group=group))
    assert mine["created"] == 1
    csv_text = (
        f"IndicatorType,IndicatorValue,Action,Title,Description\nFileSha256,{sha256()},Audit,t,d\n"
    )
    per_row = imported(post_file(api, analyst, csv_text.encode(), "text/csv"))
    assert per_row["failed"] == 1 and "all devices" in per_row["items"][0]["reason"]
    own_app = api.app_headers(AppRole.READ_WRITE)
    assert imported(post_file(api, own_app, sha256().encode(), "text/plain"))["created"] == 1


def test_big_answers_list_the_first_items(api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> None:
    headers = api.app_headers()
    monkeypatch.setattr(file_imports, "MAX_LISTED_ITEMS", 5)
    text = "\n".join(sha256() for _ in range(8)).encode()
    got = imported(post_file(api, headers, text, "text/plain"))
    assert (got["created"], len(got["items"]), got["itemsTruncated"]) == (8, 5, True)
    assert json.dumps(got)  # plain JSON
