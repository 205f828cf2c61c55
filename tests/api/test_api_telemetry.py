"""`POST /api/telemetry` and `GET /api/explain` over HTTP, with the background engine running:
ingest stores, the engine scans and alerts, a new indicator retro-hunts, overload answers
429/503 with Retry-After and stores nothing."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from iocd.api.app import create_app
from iocd.api.routes.telemetry import IngestGate
from iocd.clock import FixedClock
from iocd.compose import build
from iocd.config import Settings
from iocd.domain.accounts import AppRole
from iocd.domain.principal import Role
from tests.api.api_support import (
    ADMIN,
    CHEAP_HASH,
    START,
    LiveApi,
    LiveServer,
    StartApi,
    assert_mde_error,
    bearer,
    sha256,
    unique,
)

SYSMON = Path(__file__).resolve().parents[1] / "codecs/telemetry/golden/sysmon_flat.jsonl"


def wait_for(check: Callable[[], Any], seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def native(**values: Any) -> dict[str, Any]:
    event = {"time": "2030-01-01T11:00:00Z", "kind": "network", "device_id": "dev-9"}
    event.update(values)
    return event


@pytest.fixture
def forwarder(api: LiveApi) -> dict[str, str]:
    return api.app_headers(AppRole.TELEMETRY_WRITE)


def alerts_of(api: LiveApi, headers: dict[str, str], indicator_id: str) -> list[dict[str, Any]]:
    response = api.http.get(
        "/api/alerts", params={"$filter": f"indicatorId eq {indicator_id}"}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_posted_events_are_scanned_and_alert(
    api: LiveApi, headers: dict[str, str], forwarder: dict[str, str]
) -> None:
    domain = f"{unique('c2')}.example"
    made = api.submit(
        headers,
        indicatorType="DomainName",
        indicatorValue=domain,
        action="Block",
        title="C2 domain",
        severity="High",
        generateAlert=True,
    )
    lines = "\n".join(
        json.dumps(native(kind="dns", domain=f"x.{domain}", device_name="laptop-9"))
        for _ in range(3)
    )
    response = api.http.post(
        "/api/telemetry",
        content=lines,
        headers={**forwarder, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    (alert,) = wait_for(lambda: alerts_of(api, headers, made["id"]))
    assert alert["title"] == "C2 domain"
    assert alert["severity"] == "High"
    assert alert["computerDnsName"] == "laptop-9"
    assert alert["detectionSource"] == "CustomTI"
    got = api.http.get(f"/api/indicators/{made['id']}", headers=headers).json()
    assert got["sightingCount"] == 3


def test_gzip_json_array_and_a_new_indicator_retro_hunts(
    api: LiveApi, headers: dict[str, str], forwarder: dict[str, str]
) -> None:
    digest = sha256()
    events = [native(kind="process", sha256=digest, file_name="tool.exe", device_id="d-rh")]
    response = api.http.post(
        "/api/telemetry",
        content=gzip.compress(json.dumps(events).encode()),
        headers={**forwarder, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    wait_for(lambda: api.instance.detection.backlog() == 0)
    made = api.submit(
        headers,
        indicatorType="FileSha256",
        indicatorValue=digest,
        action="Audit",
        title="found later",
        generateAlert=True,
    )
    (alert,) = wait_for(lambda: alerts_of(api, headers, made["id"]))
    assert alert["historical"] is True
    assert alert["evidence"][0]["sha256"] == digest


def test_sysmon_sample_is_read_and_bad_records_are_reported(
    api: LiveApi, forwarder: dict[str, str]
) -> None:
    data = b"{not json\n" + SYSMON.read_bytes()
    response = api.http.post(
        "/api/telemetry", params={"format": "sysmon"}, content=data, headers=forwarder
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] > 0
    assert body["skipped"] >= 1
    assert any("JSON" in reason for reason in body["skippedReasons"])


def test_bad_requests_are_clear(api: LiveApi, forwarder: dict[str, str]) -> None:
    empty = api.http.post("/api/telemetry", content=b"", headers=forwarder)
    assert_mde_error(empty, 400)
    unknown = api.http.post(
        "/api/telemetry", params={"format": "pcap"}, content=b"[]", headers=forwarder
    )
    assert "pcap" in assert_mde_error(unknown, 400)["message"]
    broken = api.http.post("/api/telemetry", content=b"\x1f\x8b\x08broken", headers=forwarder)
    assert_mde_error(broken, 400)


def test_who_may_post_and_what_a_forwarder_may_not_do(
    api: LiveApi, forwarder: dict[str, str]
) -> None:
    body = json.dumps([native(remote_ip="192.0.2.1")])
    assert_mde_error(api.http.post("/api/telemetry", content=body), 401)
    _, analyst = api.user(Role.ANALYST, (api.group(),))
    assert_mde_error(api.http.post("/api/telemetry", content=body, headers=analyst), 403)
    _, admin = api.user(Role.SECURITY_ADMINISTRATOR)
    assert api.http.post("/api/telemetry", content=body, headers=admin).status_code == 200
    assert_mde_error(api.http.get("/api/indicators", headers=forwarder), 403)
    assert_mde_error(api.http.get("/api/alerts", headers=forwarder), 403)


def test_overload_answers_429_or_503_with_retry_after_and_stores_nothing(
    start_api: StartApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = start_api()
    forwarder = api.app_headers(AppRole.TELEMETRY_WRITE)
    body = json.dumps([native(remote_ip="192.0.2.1")])
    detection = api.instance.detection
    stored_before = detection.backlog()

    monkeypatch.setattr(detection, "backlog", lambda: 10**6)
    behind = api.http.post("/api/telemetry", content=body, headers=forwarder)
    assert behind.status_code == 429
    assert behind.headers["Retry-After"]
    monkeypatch.undo()

    def disk_full(*_: Any, **__: Any) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(detection, "ingest", disk_full)
    full = api.http.post("/api/telemetry", content=body, headers=forwarder)
    assert full.status_code == 503
    assert full.headers["Retry-After"]
    assert "nothing was kept" in full.json()["error"]["message"]
    monkeypatch.undo()
    assert detection.backlog() == stored_before


def test_every_slot_busy_answers_503(tmp_path: Path) -> None:
    config = Settings(data_dir=tmp_path, database_url="memory://")
    instance = build(config, hash_cost=CHEAP_HASH, clock=FixedClock(START))
    app = create_app(config, instance)
    app.state.ingest_gate = IngestGate(slots=0)
    server = LiveServer(app)
    server.start()
    try:
        registered, secret = instance.accounts.register_application(
            "fwd", AppRole.TELEMETRY_WRITE, ADMIN
        )
        token, _ = instance.accounts.issue_token(
            instance.accounts.tenant_id(), registered.client_id, secret
        )
        busy = httpx.post(
            server.base_url + "/api/telemetry",
            content=json.dumps([native(remote_ip="192.0.2.1")]),
            headers=bearer(token),
        )
    finally:
        server.stop()
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "1"


def test_explain_over_http(api: LiveApi, headers: dict[str, str]) -> None:
    parent = f"{unique('p')}.example"
    api.submit(headers, indicatorType="DomainName", indicatorValue=parent, action="Block")
    api.submit(headers, indicatorType="DomainName", indicatorValue=f"ok.{parent}", action="Allowed")
    response = api.http.get(
        "/api/explain", params={"device": "laptop-1", "domain": f"a.ok.{parent}"}, headers=headers
    )
    assert response.status_code == 200, response.text
    (entity,) = response.json()["entities"]
    assert entity["decision"]["enforcement"] == "allow"
    assert any("specificity" in line for line in entity["trace"])
    missing = api.http.get("/api/explain", params={"device": "d"}, headers=headers)
    assert_mde_error(missing, 400)
