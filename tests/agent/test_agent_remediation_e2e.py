"""Automated investigation reaching the endpoint: an external verdict on a file the list blocks
queues a remediation task; the real agent fetches it over HTTP, finds the file under its watched
path, quarantines it and reports; the investigation completes."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from iocd.agent.quarantine import Vault
from iocd.agent.runner import Agent, enroll
from iocd.agent.state import AgentState
from iocd.compose import Instance
from tests.agent.test_agent_e2e import Server, eventually, live  # noqa: F401 (fixture)
from tests.api.api_support import ADMIN, LiveApi


def test_a_blocked_verdict_is_remediated_by_the_agent(
    tmp_path: Path,
    live: tuple[Instance, Server, LiveApi],  # noqa: F811
) -> None:
    instance, server, api = live
    headers = api.app_headers()
    _, token = instance.agents.create_enrollment_token(ADMIN)
    state = AgentState(tmp_path / "agent")
    credential = enroll(state, server.url, token, ["e2e"])
    watched = tmp_path / "watched"
    watched.mkdir()
    payload = b"remediate me " + os.urandom(8)
    target = watched / "sub" / "bad.bin"
    target.parent.mkdir()
    target.write_bytes(payload)  # there before the list knows it: the agent leaves it alone
    digest = hashlib.sha256(payload).hexdigest()

    agent = Agent(state, credential, watch=[watched], heartbeat=30, wait=2, tasks_every=0.1)
    agent.start()
    try:
        created = api.http.post(
            "/api/indicators",
            json={
                "indicatorValue": digest,
                "indicatorType": "FileSha256",
                "action": "Block",
                "title": "remediation e2e",
                "description": "bad file",
                "severity": "High",
            },
            headers=headers,
        )
        assert created.status_code == 200, created.text
        time.sleep(0.2)
        assert target.exists()
        reply = api.http.post(
            "/api/verdicts",
            json={
                "detector": "ScannerX",
                "verdict": "Malicious",
                "deviceId": credential.device_id,
                "deviceName": "e2e-host",
                "entityType": "File",
                "sha256": digest,
            },
            headers=headers,
        )
        assert reply.status_code == 200, reply.text
        item = reply.json()
        assert item["outcome"] == "Remediating", item
        (task,) = item["tasks"]
        assert task["deviceId"] == credential.device_id

        eventually(lambda: not target.exists(), within=5.0)

        def finished() -> bool:
            got = api.http.get(f"/api/investigations/{item['id']}", headers=headers).json()
            return bool(got["status"] == "Completed")

        eventually(finished, within=5.0)
        final = api.http.get(f"/api/investigations/{item['id']}", headers=headers).json()
        assert final["outcome"] == "Remediated"
        assert final["tasks"][0]["status"] == "Done"
        assert final["tasks"][0]["quarantined"] == 1
        assert str(target) in final["tasks"][0]["result"]
        (quarantined,) = Vault(state.vault_dir).items()
        assert quarantined.hashes["sha256"] == digest
        assert quarantined.original_path == str(target)
    finally:
        agent.stop()
