"""The agent endpoints over real HTTP: enrolment, device credentials, policy snapshot and
deltas (with long-poll), status and reports (docs/agent-protocol.md)."""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from iocd.clock import FixedClock
from iocd.domain.principal import Role
from iocd.matching.snapshot import (
    MEDIA_TYPE,
    apply_update,
    entry_hash,
    snapshot_digest,
    snapshot_listed,
    update_from_wire,
    xor_digest,
)
from tests.api.api_support import START, LiveApi, StartApi, assert_mde_error, bearer, sha256


def admin(api: LiveApi) -> dict[str, str]:
    return api.user(Role.GLOBAL_ADMINISTRATOR)[1]


def make_token(api: LiveApi, **body: Any) -> str:
    response = api.http.post("/api/agents/enrollmentTokens", json=body, headers=admin(api))
    assert response.status_code == 200, response.text
    assert response.json()["token"].startswith("iocd_enr_")
    return str(response.json()["token"])


def enroll(api: LiveApi, token: str, tags: list[str] | None = None) -> httpx.Response:
    return api.http.post(
        "/api/agents/enroll",
        json={
            "enrollToken": token,
            "hostname": "web-1",
            "os": "Linux",
            "domain": "corp.example",
            "tags": tags or [],
            "agentVersion": "0.1",
        },
    )


def device(api: LiveApi, group: str | None = None, **token: Any) -> tuple[str, dict[str, str]]:
    """(group, headers) of a newly enrolled device (in `group` by its tags, if given)."""
    response = enroll(api, make_token(api, **token), [group] if group else None)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deviceCredential"].startswith(f"iocd_dev_{body['deviceId']}_")
    return body["group"], bearer(body["deviceCredential"])


def snapshot(api: LiveApi, headers: dict[str, str]) -> tuple[int, str, dict[int, Any]]:
    response = api.http.get("/api/agents/policy/snapshot", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    digest = response.headers["x-iocd-digest"]
    assert snapshot_digest(response.content) == digest
    view = {e.id: e for e in snapshot_listed(response.content)}
    assert xor_digest(entry_hash(e) for e in view.values()) == digest
    return int(response.headers["x-iocd-sequence"]), digest, view


def delta(api: LiveApi, headers: dict[str, str], since: int, wait: float = 0) -> Any:
    response = api.http.get(
        "/api/agents/policy", params={"since": since, "wait": wait}, headers=headers
    )
    assert response.status_code == 200, response.text
    return update_from_wire(response.json())


def test_enrolment_tokens_good_expired_revoked_used_up(start_api: StartApi) -> None:
    api = start_api(FixedClock(START))
    group = api.group()
    token = make_token(api, group=group, uses=1, expires="1h")
    first = enroll(api, token)
    assert first.status_code == 200 and first.json()["group"] == group
    assert_mde_error(enroll(api, token), 401, "Unauthorized")  # used up
    revoked = make_token(api)
    listed = api.http.get("/api/agents/enrollmentTokens", headers=admin(api)).json()["value"]
    token_id = revoked.split("_")[2]
    assert {t["id"] for t in listed} >= {token_id} and all("token" not in t for t in listed)
    gone = api.http.delete(f"/api/agents/enrollmentTokens/{token_id}", headers=admin(api))
    assert gone.status_code == 204
    assert_mde_error(enroll(api, revoked), 401, "Unauthorized")
    expiring = make_token(api, expires="30m")
    api.clock.advance(timedelta(minutes=31))
    assert_mde_error(enroll(api, expiring), 401, "Unauthorized")
    assert_mde_error(enroll(api, "iocd_enr_nope_nope"), 401, "Unauthorized")
    assert_mde_error(api.http.post("/api/agents/enroll", json={"hostname": "x"}), 400)
    _, analyst = api.user(Role.ANALYST, (group,))
    refused = api.http.post("/api/agents/enrollmentTokens", json={}, headers=analyst)
    assert_mde_error(refused, 403, "Forbidden")


def test_device_credential_opens_agent_endpoints_and_telemetry_only(api: LiveApi) -> None:
    _, headers = device(api)
    assert_mde_error(api.http.get("/api/indicators", headers=headers), 403, "Forbidden")
    assert_mde_error(api.http.get("/api/agents", headers=headers), 403, "Forbidden")
    event = {"time": "2030-01-01T00:00:00Z", "kind": "file", "device_id": "x", "sha256": sha256()}
    posted = api.http.post(
        "/api/telemetry?format=native", content=json.dumps([event]), headers=headers
    )
    assert posted.status_code == 200, posted.text
    app = api.app_headers()
    assert_mde_error(api.http.get("/api/agents/policy?since=0", headers=app), 401)
    bad = bearer(headers["Authorization"].removeprefix("Bearer ")[:-3] + "xyz")
    assert_mde_error(api.http.get("/api/agents/policy?since=0", headers=bad), 401)


def test_snapshot_then_deltas_for_create_update_delete_rescope(api: LiveApi) -> None:
    group = api.group()
    other = api.group()
    writer = api.app_headers()
    everyone = api.submit(writer)["id"]
    mine = api.submit(writer, rbacGroupNames=[group])["id"]
    theirs = api.submit(writer, rbacGroupNames=[other])["id"]
    moving = api.submit(writer, rbacGroupNames=[group])
    got_group, headers = device(api, group)
    assert got_group == group
    since, _digest, view = snapshot(api, headers)
    assert {int(everyone), int(mine), int(moving["id"])} <= set(view)
    assert int(theirs) not in view

    created = api.submit(writer, rbacGroupNames=[group])["id"]
    updated = api.submit(writer, id=everyone, indicatorValue=view[int(everyone)].value,
                         action="Audit", generateAlert=True)  # fmt: skip
    assert updated["action"] == "Audit"
    assert api.http.delete(f"/api/indicators/{mine}", headers=writer).status_code == 204
    moved = {k: moving[k] for k in ("indicatorType", "indicatorValue", "title", "description")}
    api.submit(writer, **moved, id=moving["id"], rbacGroupNames=[other])
    update = delta(api, headers, since)
    assert update.kind == "delta"
    assert {e.id for e in update.upserts} == {int(created), int(everyone)}
    assert set(update.removals) >= {int(mine), int(moving["id"])}
    view = apply_update(view, update)
    assert xor_digest(entry_hash(e) for e in view.values()) == update.digest
    again = snapshot(api, headers)
    assert again[0] == update.sequence and again[1] == update.digest
    assert delta(api, headers, update.sequence).kind == "unchanged"
    assert delta(api, headers, update.sequence + 10).kind == "snapshot-required"


def test_expiry_reaches_agents_as_a_removal(start_api: StartApi) -> None:
    api = start_api(FixedClock(START))
    writer = api.app_headers()
    expiry = (START + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doomed = int(api.submit(writer, expirationTime=expiry)["id"])
    _, headers = device(api)
    since, _, view = snapshot(api, headers)
    assert doomed in view
    api.clock.advance(timedelta(minutes=6))
    update = delta(api, headers, since, wait=5)
    assert update.kind == "delta" and doomed in update.removals
    assert xor_digest(entry_hash(e) for e in apply_update(view, update).values()) == update.digest


def test_long_poll_answers_within_a_second_of_a_change(api: LiveApi) -> None:
    group = api.group()
    _, headers = device(api, group)
    since = snapshot(api, headers)[0]
    writer = api.app_headers()
    made: list[float] = []

    def change() -> None:
        time.sleep(0.5)
        made.append(time.monotonic())
        httpx.post(f"{api.base_url}/api/indicators", json=_body(group), headers=writer, timeout=10)

    thread = threading.Thread(target=change)
    thread.start()
    started = time.monotonic()
    update = delta(api, headers, since, wait=30)
    answered = time.monotonic()
    thread.join()
    assert update.kind == "delta" and len(update.upserts) == 1
    assert answered - made[0] < 1.0, answered - made[0]
    assert answered - started < 5
    quiet = time.monotonic()
    assert delta(api, headers, update.sequence, wait=0.3).kind == "unchanged"
    assert 0.25 < time.monotonic() - quiet < 3


def _body(group: str) -> dict[str, Any]:
    return {
        "indicatorValue": sha256(),
        "indicatorType": "FileSha256",
        "action": "Block",
        "title": "pushed",
        "description": "pushed to agents",
        "rbacGroupNames": [group],
    }


def test_snapshot_required_when_too_far_behind(start_api: StartApi) -> None:
    api = start_api(FixedClock(START))
    api.instance.agent_policy._max_delta = 3
    _, headers = device(api)
    writer = api.app_headers()
    for _ in range(5):
        api.submit(writer)
    required = delta(api, headers, 0)
    assert required.kind == "snapshot-required" and required.sequence == 5
    assert delta(api, headers, 3).kind == "delta"


def test_status_and_reports_with_a_duplicate_batch(api: LiveApi) -> None:
    group = api.group()
    _, headers = device(api, group)
    writer = api.app_headers()
    value = sha256()
    indicator = api.submit(writer, indicatorValue=value, generateAlert=True)
    sequence, digest, _ = snapshot(api, headers)
    status = {
        "appliedSequence": sequence,
        "appliedDigest": digest,
        "hostname": "web-1",
        "os": "Linux",
        "tags": [group],
        "agentVersion": "0.1",
        "enforcement": {"files": "quarantine-after-write", "network": "alert-only"},
    }
    answered = api.http.post("/api/agents/status", json=status, headers=headers)
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"group": group, "sequence": sequence}
    bad = api.http.post("/api/agents/status", json={"enforcement": {"files": "x"}}, headers=headers)
    assert_mde_error(bad, 400)
    event = {"time": "2030-01-01T00:00:00Z", "kind": "file", "device_id": "spoof",
             "sha256": value, "file_path": "/home/u/x.bin"}  # fmt: skip
    report = {
        "batchId": str(uuid.uuid4()),
        "alerts": [
            {"indicatorId": indicator["id"], "entity": value, "entityType": "File", "event": event}
        ],
        "events": [event, {**event, "kind": "process"}],
    }
    body = gzip.compress(json.dumps(report).encode())
    sent = {**headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    first = api.http.post("/api/agents/reports", content=body, headers=sent)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False and first.json()["accepted"] == 3
    second = api.http.post("/api/agents/reports", content=body, headers=sent)
    assert second.json()["duplicate"] is True and second.json()["accepted"] == 0
    listed = api.http.get("/api/agents", headers=admin(api)).json()["value"]
    mine = [a for a in listed if a["group"] == group]
    assert len(mine) == 1 and mine[0]["digestMatches"] is True
    assert mine[0]["enforcement"] == {"files": "quarantine-after-write", "network": "alert-only"}
    alerts = api.http.get("/api/alerts", headers=admin(api)).json()["value"]
    ours = [a for a in alerts if a["machineId"] == mine[0]["deviceId"]]
    assert len(ours) == 1 and ours[0]["computerDnsName"] == "web-1"
    assert_mde_error(api.http.post("/api/agents/reports", content=b"{}", headers=sent), 400)


@pytest.mark.parametrize("path", ["/api/agents/policy/snapshot", "/api/agents/policy?since=0"])
def test_device_endpoints_need_a_device_credential(api: LiveApi, path: str) -> None:
    assert_mde_error(api.http.get(path), 401, "Unauthorized")
