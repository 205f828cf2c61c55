"""POST /api/verdicts, the investigations it opens, and the agents' task endpoints, over HTTP."""

from __future__ import annotations

from typing import Any

from iocd.domain.accounts import AppRole
from iocd.domain.agents import DeviceReport
from iocd.domain.principal import Role
from tests.api.api_support import ADMIN, LiveApi, assert_mde_error, bearer, sha256


def _verdict(value: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "detector": "ScannerX",
        "verdict": "Malicious",
        "deviceId": "dev-api-1",
        "deviceName": "api-host",
        "entityType": "File",
        "sha256": value,
        "title": "Trojan.Generic",
        "severity": "High",
        "time": "2030-01-01T00:00:00Z",
    }
    body.update(overrides)
    return body


def test_an_allowed_indicator_closes_a_posted_bad_verdict(api: LiveApi, headers: Any) -> None:
    value = sha256()
    allowed = api.submit(headers, indicatorValue=value, action="Allowed")
    reply = api.http.post("/api/verdicts", json=_verdict(value), headers=headers)
    assert reply.status_code == 200, reply.text
    item = reply.json()
    assert item["outcome"] == "AllowedByIndicator" and item["status"] == "Completed"
    assert item["verdictSource"] == "External" and item["detector"] == "ScannerX"
    assert item["indicatorId"] == allowed["id"]
    assert item["entities"] == [{"kind": "sha256", "value": value}]
    assert item["tasks"] == []
    alert = api.http.get(f"/api/alerts/{item['alertId']}", headers=headers).json()
    assert alert["status"] == "Resolved"
    assert alert["detectionSource"] == "ExternalVerdict"
    assert alert["classification"] == "FalsePositive"
    assert allowed["id"] in alert["comments"][-1]["comment"]

    got = api.http.get(f"/api/investigations/{item['id']}", headers=headers)
    assert got.status_code == 200 and got.json()["steps"] == item["steps"]
    linked = api.http.get(f"/api/alerts/{item['alertId']}/investigation", headers=headers)
    assert linked.json()["id"] == item["id"]
    listed = api.http.get(
        "/api/investigations",
        params={"$filter": "status eq 'Completed'", "$count": "true"},
        headers=headers,
    ).json()
    assert item["id"] in [i["id"] for i in listed["value"]] and listed["@odata.count"] >= 1


def test_verdicts_are_checked_and_need_an_organisation_wide_caller(
    api: LiveApi, headers: Any
) -> None:
    bad = api.http.post("/api/verdicts", json=_verdict("nothex"), headers=headers)
    assert_mde_error(bad, 400)
    missing = api.http.post("/api/verdicts", json={"verdict": "Malicious"}, headers=headers)
    assert_mde_error(missing, 400)
    own = api.app_headers(AppRole.READ_WRITE)
    assert_mde_error(api.http.post("/api/verdicts", json=_verdict(sha256()), headers=own), 403)
    _, analyst = api.user(Role.ANALYST, (api.group(),))
    assert_mde_error(api.http.post("/api/verdicts", json=_verdict(sha256()), headers=analyst), 403)
    assert_mde_error(api.http.get("/api/investigations"), 401)
    assert_mde_error(api.http.get("/api/investigations/999999", headers=headers), 404)
    assert_mde_error(
        api.http.get("/api/investigations", params={"$filter": "x eq 1"}, headers=headers), 400
    )


def test_analysts_see_only_their_groups_investigations(api: LiveApi, headers: Any) -> None:
    item = api.http.post("/api/verdicts", json=_verdict(sha256()), headers=headers).json()
    _, analyst = api.user(Role.ANALYST, (api.group(),))
    listed = api.http.get("/api/investigations", headers=analyst).json()["value"]
    assert item["id"] not in [i["id"] for i in listed]
    assert_mde_error(api.http.get(f"/api/investigations/{item['id']}", headers=analyst), 403)


def test_block_queues_tasks_that_the_device_fetches_and_reports(api: LiveApi, headers: Any) -> None:
    value = sha256()
    api.submit(headers, indicatorValue=value, action="Block")
    _, token = api.instance.agents.create_enrollment_token(ADMIN)
    device, credential = api.instance.agents.enroll(token, DeviceReport("api-agent"))
    item = api.http.post(
        "/api/verdicts",
        json=_verdict(value, deviceId=device.device_id, deviceName="api-agent"),
        headers=headers,
    ).json()
    assert item["outcome"] == "Remediating", item
    (task,) = item["tasks"]
    assert task["deviceId"] == device.device_id and task["sha256"] == value

    as_device = bearer(credential)
    assert_mde_error(api.http.get("/api/agents/tasks", headers=headers), 401)
    fetched = api.http.get("/api/agents/tasks", headers=as_device).json()["value"]
    assert [t["id"] for t in fetched] == [task["id"]] and fetched[0]["status"] == "Delivered"
    bad = api.http.post(f"/api/agents/tasks/{task['id']}", json={"status": "?"}, headers=as_device)
    assert_mde_error(bad, 400)
    done = api.http.post(
        f"/api/agents/tasks/{task['id']}",
        json={"status": "Done", "message": "quarantined /tmp/x", "quarantined": 1},
        headers=as_device,
    )
    assert done.status_code == 200 and done.json()["status"] == "Done"
    final = api.http.get(f"/api/investigations/{item['id']}", headers=headers).json()
    assert (final["status"], final["outcome"]) == ("Completed", "Remediated")
    assert final["tasks"][0]["result"] == "quarantined /tmp/x"
