"""Every Indicators endpoint of SPEC section 7 over HTTP, under /api and /api/v1.0, MDE shapes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest

from iocd.clock import FixedClock
from iocd.domain.accounts import AppRole
from iocd.domain.principal import Role
from tests.api.api_support import (
    ADMIN,
    JSON,
    START,
    LiveApi,
    StartApi,
    assert_mde_error,
    body,
    sha256,
    unique,
    without_sightings,
)

PREFIXES = ["/api", "/api/v1.0"]
prefixes = pytest.mark.parametrize("prefix", PREFIXES)


def assert_json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON
    return response.json()


def history(api: LiveApi, indicator_id: str) -> list[Any]:
    return api.instance.indicators.history(int(indicator_id), ADMIN)


def stored(api: LiveApi, indicator_id: str) -> Any:
    with api.instance.store.transaction() as tx:
        return tx.get(int(indicator_id))


# -- list, get ----------------------------------------------------------------------------------


@prefixes
@pytest.mark.parametrize("slash", ["", "/"])
def test_list_has_the_mde_shape(api: LiveApi, headers: dict, prefix: str, slash: str) -> None:
    created = api.submit(headers)
    got = assert_json(
        api.http.get(
            f"{prefix}/indicators{slash}",
            params={"$filter": f"id eq {created['id']}"},
            headers=headers,
        )
    )
    assert set(got) == {"@odata.context", "value"}
    assert got["@odata.context"].startswith(api.base_url)
    assert got["@odata.context"].endswith("/api/$metadata#Indicators")
    assert got["value"] == [created]


@prefixes
def test_get_by_id(api: LiveApi, headers: dict, prefix: str) -> None:
    created = api.submit(headers)
    got = assert_json(api.http.get(f"{prefix}/indicators/{created['id']}", headers=headers))
    assert without_sightings(got) == created


@prefixes
@pytest.mark.parametrize("missing", ["999999999999", "abc", "-1", "1" * 40])
def test_get_unknown_id_is_404(api: LiveApi, headers: dict, prefix: str, missing: str) -> None:
    response = api.http.get(f"{prefix}/indicators/{missing}", headers=headers)
    assert_mde_error(response, 404, "NotFound")


# -- submit -------------------------------------------------------------------------------------


@prefixes
def test_submit_returns_200_with_the_stored_indicator(api: LiveApi, prefix: str) -> None:
    client_id, headers = api.app_with_id()
    sent = body(
        indicatorValue="  " + sha256().upper() + " ",
        action="AlertAndBlock",
        expirationTime="2099-01-31T10:00:00.1234567Z",
        recommendedActions="isolate",
        category="Execution",
        mitreTechniques=["T1059.001"],
        externalId=unique("ext"),
    )
    got = assert_json(api.http.post(f"{prefix}/indicators", json=sent, headers=headers))
    assert got["id"].isdigit()
    assert got["indicatorValue"] == sent["indicatorValue"].strip().lower()
    assert got["indicatorType"] == "FileSha256"
    assert got["action"] == "BlockAndRemediate"
    assert got["title"] == sent["title"]
    assert got["severity"] == "High"
    assert got["expirationTime"].startswith("2099-01-31T10:00:00")
    assert got["mitreTechniques"] == ["T1059.001"]
    assert got["externalId"] == sent["externalId"]
    assert got["createdBy"] == client_id
    assert got["createdBySource"] == "PublicApi"
    assert got["sourceType"] == "AadApp"
    assert got["rbacGroupNames"] == []
    # what was stored is what GET answers
    assert (
        without_sightings(
            assert_json(api.http.get(f"/api/indicators/{got['id']}", headers=headers))
        )
        == got
    )


@prefixes
def test_update_as_a_submit_carrying_id(api: LiveApi, headers: dict, prefix: str) -> None:
    created = api.submit(headers)
    changed = body(
        id=created["id"],
        indicatorValue=created["indicatorValue"],
        title="renamed",
        action="Audit",
        generateAlert=True,
    )
    got = assert_json(api.http.post(f"{prefix}/indicators", json=changed, headers=headers))
    assert got["id"] == created["id"]
    assert (got["title"], got["action"]) == ("renamed", "Audit")
    # an integer id works as well
    again = {**changed, "id": int(created["id"]), "title": "renamed twice"}
    got = assert_json(api.http.post(f"{prefix}/indicators", json=again, headers=headers))
    assert (got["id"], got["title"]) == (created["id"], "renamed twice")


def test_submit_with_an_unknown_id_is_404(api: LiveApi, headers: dict) -> None:
    response = api.http.post("/api/indicators", json=body(id="987654321098"), headers=headers)
    assert_mde_error(response, 404, "NotFound")


def test_resubmitting_the_same_identity_updates_it(api: LiveApi, headers: dict) -> None:
    created = api.submit(headers, action="Block")
    got = api.submit(headers, indicatorValue=created["indicatorValue"], action="Allowed")
    assert got["id"] == created["id"]
    assert got["action"] == "Allowed"
    listed = assert_json(
        api.http.get(
            "/api/indicators",
            params={"$filter": f"indicatorValue eq '{created['indicatorValue']}'"},
            headers=headers,
        )
    )
    assert [i["id"] for i in listed["value"]] == [created["id"]]


def test_identical_resubmit_is_a_no_op(api: LiveApi, headers: dict) -> None:
    sent = body()
    first = assert_json(api.http.post("/api/indicators", json=sent, headers=headers))
    entries = len(history(api, first["id"]))
    sequence = api.instance.indicators.last_sequence()
    again = assert_json(api.http.post("/api/indicators", json=sent, headers=headers))
    assert again == first
    assert len(history(api, first["id"])) == entries
    assert api.instance.indicators.last_sequence() == sequence


def test_extra_fields_are_ignored(api: LiveApi, headers: dict) -> None:
    sent = body(
        createdByDisplayName="Mallory",
        createdBy="mallory",
        rbacGroupIds=[1, 2, 3],
        lastUpdateTime="2001-01-01T00:00:00Z",
        creationTimeDateTimeUtc="2001-01-01T00:00:00Z",
        somethingNew={"nested": True},
    )
    got = assert_json(api.http.post("/api/indicators", json=sent, headers=headers))
    assert got["createdByDisplayName"] != "Mallory"
    assert got["createdBy"] != "mallory"
    assert got["rbacGroupIds"] == []
    assert not got["lastUpdateTime"].startswith("2001")
    assert "somethingNew" not in got


@pytest.mark.parametrize(
    "renamed",
    [
        ("indicatorValue", "IndicatorValue"),
        ("action", "Action"),
        ("indicatorType", "indicatortype"),
    ],
)
def test_body_field_names_are_case_sensitive(
    api: LiveApi, headers: dict, renamed: tuple[str, str]
) -> None:
    sent = body()
    sent[renamed[1]] = sent.pop(renamed[0])
    error = assert_mde_error(
        api.http.post("/api/indicators", json=sent, headers=headers),
        400,
        "MissingRequiredParameter",
    )
    assert error["target"] == renamed[0]


@pytest.mark.parametrize("missing", ["title", "description"])
def test_title_and_description_are_required(api: LiveApi, headers: dict, missing: str) -> None:
    sent = body()
    del sent[missing]
    error = assert_mde_error(
        api.http.post("/api/indicators", json=sent, headers=headers),
        400,
        "MissingRequiredParameter",
    )
    assert error["target"] == missing


@pytest.mark.parametrize(
    ("indicator_type", "value", "code"),
    [
        ("FileSha256", "not-a-hash", "InvalidHashValue"),
        ("IpAddress", "999.1.1.1", "InvalidIpAddress"),
        ("DomainName", "bad domain!", "InvalidDomainName"),
        ("Url", "not a url", "InvalidUrl"),
    ],
)
def test_invalid_values_have_mde_codes(
    api: LiveApi, headers: dict, indicator_type: str, value: str, code: str
) -> None:
    sent = body(indicatorType=indicator_type, indicatorValue=value)
    error = assert_mde_error(
        api.http.post("/api/indicators", json=sent, headers=headers), 400, code
    )
    assert error["target"] == "indicatorValue"


def test_guardrail_refusal_then_override(api: LiveApi, headers: dict) -> None:
    sent = body(indicatorType="DomainName", indicatorValue=f"{unique('nas')}.internal")
    error = assert_mde_error(api.http.post("/api/indicators", json=sent, headers=headers), 400)
    assert "internal" in error["message"]
    justified = {**sent, "overrideJustification": "incident 42: this host is compromised"}
    got = assert_json(api.http.post("/api/indicators", json=justified, headers=headers))
    assert got["indicatorValue"] == sent["indicatorValue"]
    assert stored(api, got["id"]).override_justification == justified["overrideJustification"]
    assert any(
        e.justification == justified["overrideJustification"] for e in history(api, got["id"])
    )


# -- import -------------------------------------------------------------------------------------


@prefixes
def test_import_good_and_bad_items_fail_alone_in_request_order(
    api: LiveApi, headers: dict, prefix: str
) -> None:
    good1, good2 = (
        body(),
        body(indicatorType="DomainName", indicatorValue=f"{unique('imp')}.example.com"),
    )
    items = [
        good1,
        body(indicatorType="FileSha1", indicatorValue="xyz"),
        "not an object",
        {k: v for k, v in body().items() if k != "action"},
        good2,
        body(indicatorType="IpAddress", indicatorValue="203.0.113.7", action="BlockAndRemediate"),
    ]
    got = assert_json(
        api.http.post(f"{prefix}/indicators/import", json={"Indicators": items}, headers=headers)
    )
    value = got["value"]
    assert [set(v) for v in value] == [{"id", "indicator", "isFailed", "failureReason"}] * 6
    assert [v["isFailed"] for v in value] == [False, True, True, True, False, True]
    assert [v["indicator"] for v in value] == [
        good1["indicatorValue"],
        "xyz",
        None,
        items[3]["indicatorValue"],
        good2["indicatorValue"],
        "203.0.113.7",
    ]
    for v in value:
        if v["isFailed"]:
            assert v["id"] is None
            assert isinstance(v["failureReason"], str)
            assert v["failureReason"]
        else:
            assert v["failureReason"] is None
            stored_one = assert_json(api.http.get(f"/api/indicators/{v['id']}", headers=headers))
            assert stored_one["indicatorValue"] == v["indicator"].lower()


@prefixes
def test_import_empty_list_probe(api: LiveApi, headers: dict, prefix: str) -> None:
    response = api.http.post(
        f"{prefix}/indicators/import", json={"Indicators": []}, headers=headers
    )
    assert assert_json(response) == {"value": []}


def test_import_without_the_indicators_key(api: LiveApi, headers: dict) -> None:
    response = api.http.post("/api/indicators/import", json={"indicators": []}, headers=headers)
    assert_mde_error(response, 400, "MissingRequiredParameter")


@pytest.fixture(scope="module")
def small_batches(start_api: StartApi) -> LiveApi:
    return start_api(import_batch_size=5)


def test_import_over_the_batch_size(small_batches: LiveApi) -> None:
    api = small_batches
    headers = api.app_headers()
    ok = api.http.post(
        "/api/indicators/import", json={"Indicators": [body() for _ in range(5)]}, headers=headers
    )
    assert [v["isFailed"] for v in assert_json(ok)["value"]] == [False] * 5
    before = api.instance.indicators.active_count()
    response = api.http.post(
        "/api/indicators/import", json={"Indicators": [body() for _ in range(6)]}, headers=headers
    )
    assert_mde_error(response, 400, "MaximumBatchSizeExceeded")
    assert api.instance.indicators.active_count() == before


def test_batch_delete_over_the_batch_size(small_batches: LiveApi) -> None:
    api = small_batches
    headers = api.app_headers()
    ids = [api.submit(headers)["id"] for _ in range(6)]
    response = api.http.post(
        "/api/indicators/BatchDelete", json={"IndicatorIds": ids}, headers=headers
    )
    assert_mde_error(response, 400, "MaximumBatchSizeExceeded")
    for indicator_id in ids:
        got = assert_json(api.http.get(f"/api/indicators/{indicator_id}", headers=headers))
        assert got["state"] == "active"


# -- delete -------------------------------------------------------------------------------------


@prefixes
def test_delete_then_404(api: LiveApi, headers: dict, prefix: str) -> None:
    created = api.submit(headers)
    response = api.http.delete(f"{prefix}/indicators/{created['id']}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    again = api.http.delete(f"{prefix}/indicators/{created['id']}", headers=headers)
    assert_mde_error(again, 404, "NotFound")
    listed = assert_json(
        api.http.get(
            "/api/indicators", params={"$filter": f"id eq {created['id']}"}, headers=headers
        )
    )
    assert listed["value"] == []
    assert history(api, created["id"])[-1].action == "deleted"


@prefixes
def test_batch_delete_all_or_nothing(api: LiveApi, headers: dict, prefix: str) -> None:
    ids = [api.submit(headers)["id"] for _ in range(3)]
    response = api.http.post(
        f"{prefix}/indicators/BatchDelete",
        json={"IndicatorIds": [*ids, "987654321012"]},
        headers=headers,
    )
    assert_mde_error(response, 404, "NotFound")
    for indicator_id in ids:
        got = assert_json(api.http.get(f"/api/indicators/{indicator_id}", headers=headers))
        assert got["state"] == "active"
    response = api.http.post(
        f"{prefix}/indicators/BatchDelete",
        json={"IndicatorIds": [ids[0], int(ids[1]), ids[2]]},
        headers=headers,
    )
    assert response.status_code == 204
    for indicator_id in ids:
        got = assert_json(api.http.get(f"/api/indicators/{indicator_id}", headers=headers))
        assert got["state"] == "deleted"


@pytest.mark.parametrize("payload", [{"IndicatorIds": []}, {"IndicatorIds": ["abc"]}, {}])
def test_batch_delete_bad_bodies(api: LiveApi, headers: dict, payload: dict) -> None:
    response = api.http.post("/api/indicators/BatchDelete", json=payload, headers=headers)
    assert_mde_error(response, 400)


def test_ti_readwrite_app_creates_indicators_it_can_find_by_created_by(api: LiveApi) -> None:
    client_id, headers = api.app_with_id(AppRole.READ_WRITE)
    created = api.submit(headers)
    listed = assert_json(
        api.http.get(
            "/api/indicators", params={"$filter": f"createdBy eq '{client_id}'"}, headers=headers
        )
    )
    assert [i["id"] for i in listed["value"]] == [created["id"]]


def test_every_json_response_says_application_json(api: LiveApi, headers: dict) -> None:
    created = api.submit(headers)
    responses = [
        api.http.get("/api/indicators", headers=headers),
        api.http.get(f"/api/indicators/{created['id']}", headers=headers),
        api.http.get("/api/indicators/0", headers=headers),
        api.http.post("/api/indicators", json=body(), headers=headers),
        api.http.post("/api/indicators", json={}, headers=headers),
        api.http.post("/api/indicators/import", json={"Indicators": [body()]}, headers=headers),
        api.http.get("/api/indicators", params={"$filter": "nope"}, headers=headers),
        api.http.get("/api/indicators"),
        api.http.put("/api/indicators", headers=headers),
        api.http.get("/api/nothing-here", headers=headers),
        api.http.post(f"/{api.tenant}/oauth2/v2.0/token", data={"grant_type": "x"}),
        api.http.get("/health"),
        api.http.get("/openapi.json"),
    ]
    for response in responses:
        assert response.headers["content-type"] == JSON, (response.request.url, response.text)
        response.json()
        if response.status_code >= 400 and "oauth2" not in response.request.url.path:
            assert_mde_error(response, response.status_code)


def test_concurrent_identical_submits_make_one_indicator(api: LiveApi, headers: dict) -> None:
    sent = body()

    def submit(_: int) -> httpx.Response:
        with httpx.Client(base_url=api.base_url, timeout=30) as client:
            return client.post("/api/indicators", json=sent, headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(submit, range(16)))
    assert {r.status_code for r in responses} == {200}
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    listed = assert_json(
        api.http.get(
            "/api/indicators",
            params={"$filter": f"indicatorValue eq '{sent['indicatorValue']}'"},
            headers=headers,
        )
    )
    assert [i["id"] for i in listed["value"]] == list(ids)


def test_expired_indicators_leave_default_listings(start_api: StartApi) -> None:
    clock = FixedClock(START)
    api = start_api(clock=clock)
    _, headers = api.user(Role.SECURITY_ADMINISTRATOR)  # personal tokens do not expire
    soon = (START + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    expiring = api.submit(headers, expirationTime=soon)
    lasting = api.submit(headers)
    listed = assert_json(api.http.get("/api/indicators", headers=headers))["value"]
    assert [i["id"] for i in listed] == [expiring["id"], lasting["id"]]
    clock.advance(timedelta(minutes=30))
    listed = assert_json(api.http.get("/api/indicators", headers=headers))["value"]
    assert [i["id"] for i in listed] == [lasting["id"]]
    got = assert_json(api.http.get(f"/api/indicators/{expiring['id']}", headers=headers))
    assert got["state"] == "expired"
    assert_mde_error(
        api.http.delete(f"/api/indicators/{expiring['id']}", headers=headers), 404, "NotFound"
    )
    # re-submitting the expired identity creates a new indicator
    again = api.submit(headers, indicatorValue=expiring["indicatorValue"])
    assert again["id"] not in (expiring["id"], lasting["id"])
