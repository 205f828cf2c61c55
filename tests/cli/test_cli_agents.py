"""`iocd agents ...`: enrolment tokens and the agent list, on a SQLite data directory."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from iocd.cli.main import app
from iocd.compose import build
from iocd.config import Settings
from iocd.domain.agents import DeviceReport
from iocd.services.agents import AgentStatus


def run(data: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["--data-dir", str(data), *args])
    assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
    return result.output


def test_tokens_and_agents(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = run(data, "agents", "enroll-token", "--uses", "1", "--expires", "2h")
    token = next(w for w in made.split() if w.startswith("iocd_enr_"))
    assert run(data, "agents", "enroll-token", "--group", "Nope", code=1).startswith("error")
    listed = json.loads(run(data, "agents", "tokens", "--json"))
    assert [(t["maxUses"], t["state"]) for t in listed] == [(1, "active")]

    instance = build(Settings(data_dir=data))
    device, _ = instance.agents.enroll(token, DeviceReport("web-1", "Linux"))
    sequence, digest = instance.agent_policy.digest(device.group)
    instance.agents.report_status(
        device, DeviceReport("web-1"), AgentStatus(sequence, digest, "alert-only", "alert-only")
    )
    agents = json.loads(run(data, "agents", "list", "--json"))
    assert agents[0]["deviceId"] == device.device_id and agents[0]["digestMatches"] is True
    assert "web-1" in run(data, "agents", "list")

    token_id = listed[0]["id"]
    run(data, "agents", "revoke-token", token_id)
    assert json.loads(run(data, "agents", "tokens", "--json"))[0]["state"] == "revoked"
    assert run(data, "agents", "revoke-token", "nope", code=1).startswith("error")
