"""The Alerts API and indicator sightings over real HTTP (SPEC 6, issue 4 points 4 and 6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from iocd.domain.accounts import AppRole
from iocd.domain.alerts import Alert
from iocd.domain.devices import Sighting
from iocd.domain.principal import Role
from tests.alert_factories import make_detection
from tests.api.api_support import JSON, LiveApi, assert_mde_error, unique

H = timedelta(hours=1)


def raise_alert(
    api: LiveApi, indicator: dict[str, Any], device: str | None = None, group: str = "G"
) -> Alert:
    """An alert of the indicator on a device of its own (unique unless given)."""
    value, at = indicator["indicatorValue"], api.clock.now()
    detection = make_detection(int(indicator["id"]), device or unique("dev"), at, value)
    detection = replace(detection, event=replace(detection.event, device_group=group))
    return api.instance.alerts.raise_alerts([detection]).alerts[0]


def test_list_get_and_mde_shape(api: LiveApi, headers: dict[str, str]) -> None:
    indicator = api.submit(
        headers, action="Audit", category="Malware", mitreTechniques=["T1204"], severity="Low"
    )
    alert = raise_alert(api, indicator)
    got = api.http.get(f"/api/alerts/{alert.id}", headers=headers)
    assert got.status_code == 200 and got.headers["content-type"].startswith(JSON)
    item = got.json()
    assert item["id"] == str(alert.id) and item["indicatorId"] == indicator["id"]
    assert (item["title"], item["severity"], item["status"]) == ("test indicator", "Low", "New")
    assert (item["category"], item["mitreTechniques"]) == ("Malware", ["T1204"])
    assert item["detectionSource"] == "CustomTI"
    assert item["machineId"] == alert.machine_id and item["rbacGroupName"] == "G"
    assert item["classification"] is None and item["historical"] is False
    assert item["evidence"][0]["entityType"] == "File"
    assert item["evidence"][0]["sha256"] == indicator["indicatorValue"]
    assert item["decision"]["alert"] is True
    assert item["firstEventTime"].endswith("Z") and item["occurrences"] == 1
    listed = api.http.get(
        "/api/v1.0/alerts",
        params={"$filter": f"machineId eq '{alert.machine_id}'"},
        headers=headers,
    )
    assert listed.status_code == 200
    assert listed.json()["value"] == [item]
    assert listed.json()["@odata.context"].endswith("/api/$metadata#Alerts")


def test_paging_ordering_and_count(api: LiveApi, headers: dict[str, str]) -> None:
    indicator = api.submit(headers, action="Audit")
    device = unique("dev")
    ids = [raise_alert(api, api.submit(headers, action="Audit"), device).id for _ in range(3)]
    raise_alert(api, indicator, unique("other"))
    where = {"$filter": f"machineId eq '{device}' and status eq 'New'", "$count": "true"}
    first = api.http.get("/api/alerts", params={**where, "$top": "2"}, headers=headers).json()
    assert first["@odata.count"] == 3
    assert [int(a["id"]) for a in first["value"]] == ids[:2]
    rest = api.http.get(first["@odata.nextLink"], headers=headers).json()
    assert [int(a["id"]) for a in rest["value"]] == ids[2:]
    assert "@odata.nextLink" not in rest
    newest = api.http.get(
        "/api/alerts", params={**where, "$orderby": "id desc", "$top": "1"}, headers=headers
    ).json()
    assert [int(a["id"]) for a in newest["value"]] == ids[-1:]
    assert "$skip=1" in newest["@odata.nextLink"]


def test_bad_queries_and_ids(api: LiveApi, headers: dict[str, str]) -> None:
    error = assert_mde_error(
        api.http.get("/api/alerts", params={"$filter": "colour eq 'red'"}, headers=headers),
        400,
        "ODataError",
    )
    assert "colour" in error["message"]
    assert_mde_error(
        api.http.get("/api/alerts", params={"$filter": "status eq 'Open'"}, headers=headers),
        400,
        "ODataError",
    )
    assert_mde_error(
        api.http.get("/api/alerts", params={"$orderby": "nope"}, headers=headers), 400, "ODataError"
    )
    assert_mde_error(api.http.get("/api/alerts/999999999", headers=headers), 404, "NotFound")
    assert_mde_error(api.http.get("/api/alerts/abc", headers=headers), 404, "NotFound")
    assert_mde_error(api.http.get("/api/alerts"), 401, "Unauthorized")


def test_patch_triages_and_validates(api: LiveApi, headers: dict[str, str]) -> None:
    alert = raise_alert(api, api.submit(headers, action="Audit"))
    url = f"/api/alerts/{alert.id}"
    patched = api.http.patch(
        url,
        json={
            "status": "Resolved",
            "classification": "FalsePositive",
            "determination": "SecurityTesting",
            "assignedTo": "secops@example.com",
            "comment": "red team exercise",
        },
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    item = patched.json()
    assert (item["status"], item["classification"], item["determination"]) == (
        "Resolved",
        "FalsePositive",
        "SecurityTesting",
    )
    assert item["assignedTo"] == "secops@example.com" and item["resolvedTime"]
    assert [c["comment"] for c in item["comments"]] == ["red team exercise"]
    assert api.http.get(url, headers=headers).json() == item
    error = assert_mde_error(
        api.http.patch(url, json={"status": "Closed"}, headers=headers), 400, "InvalidInput"
    )
    assert error["target"] == "status"
    assert_mde_error(api.http.patch(url, json={}, headers=headers), 400, "InvalidInput")
    assert_mde_error(
        api.http.patch(url, content=b"status=New", headers=headers), 415, "InvalidRequestBody"
    )
    assert_mde_error(
        api.http.patch("/api/alerts/999999999", json={"comment": "x"}, headers=headers),
        404,
        "NotFound",
    )


def test_who_sees_and_changes_which_alerts(api: LiveApi, headers: dict[str, str]) -> None:
    group_a, group_b = api.group(), api.group()
    indicator = api.submit(headers, action="Audit")
    in_a = raise_alert(api, indicator, group=group_a)
    in_b = raise_alert(api, indicator, group=group_b)
    _, analyst = api.user(Role.ANALYST, (group_a,))
    _, reader = api.user(Role.READ_ONLY)
    seen = api.http.get("/api/alerts", headers=analyst).json()["value"]
    assert {a["id"] for a in seen} == {str(in_a.id)}
    assert api.http.get(f"/api/alerts/{in_a.id}", headers=analyst).status_code == 200
    assert_mde_error(api.http.get(f"/api/alerts/{in_b.id}", headers=analyst), 403, "Forbidden")
    assert_mde_error(
        api.http.patch(f"/api/alerts/{in_b.id}", json={"comment": "x"}, headers=analyst),
        403,
        "Forbidden",
    )
    ok = api.http.patch(f"/api/alerts/{in_a.id}", json={"status": "InProgress"}, headers=analyst)
    assert ok.status_code == 200 and ok.json()["status"] == "InProgress"
    assert api.http.get(f"/api/alerts/{in_b.id}", headers=reader).status_code == 200
    assert_mde_error(
        api.http.patch(f"/api/alerts/{in_b.id}", json={"comment": "x"}, headers=reader),
        403,
        "Forbidden",
    )
    with api.instance.store.accounts(readonly=True) as tx:
        denied = [
            e.changes.get("alertId")
            for e in tx.recent_audit(50)
            if e.action == "denied" and "alertId" in e.changes
        ]
    assert denied.count(str(in_b.id)) >= 3


def test_own_only_application_sees_alerts_of_its_own_indicators(api: LiveApi) -> None:
    own = api.app_headers(AppRole.READ_WRITE)
    other = api.app_headers(AppRole.READ_WRITE)
    alert = raise_alert(api, api.submit(own, action="Audit"))
    assert api.http.get(f"/api/alerts/{alert.id}", headers=own).status_code == 200
    assert_mde_error(api.http.get(f"/api/alerts/{alert.id}", headers=other), 403, "Forbidden")
    assert api.http.get("/api/alerts", headers=other).json()["value"] == []


@pytest.mark.parametrize("prefix", ["/api", "/api/v1.0"])
def test_indicator_shows_sightings_and_authority(
    api: LiveApi, headers: dict[str, str], prefix: str
) -> None:
    indicator = api.submit(headers)
    url = f"{prefix}/indicators/{indicator['id']}"
    before = api.http.get(url, headers=headers).json()
    assert before["authority"] == "Organisation"
    assert (before["sightingCount"], before["sightingDeviceCount"]) == (0, 0)
    assert before["firstSeen"] is None and before["lastSeen"] is None
    now, n = api.clock.now(), int(indicator["id"])
    api.instance.alerts.record_sightings(
        [Sighting(n, "d1", now - H, now, 3), Sighting(n, "d2", now, now)]
    )
    after = api.http.get(url, headers=headers).json()
    assert (after["sightingCount"], after["sightingDeviceCount"]) == (4, 2)
    assert after["firstSeen"] < after["lastSeen"]


def test_analyst_indicators_have_group_authority(api: LiveApi) -> None:
    group = api.group()
    _, analyst = api.user(Role.ANALYST, (group,))
    stored = api.submit(analyst, rbacGroupNames=[group])
    assert stored["authority"] == "Group"
