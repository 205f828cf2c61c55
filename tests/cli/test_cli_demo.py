"""`iocd demo` on a SQLite data directory (a small data set: the options scale it down)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iocd.cli.main import app

Run = Callable[..., str]
SMALL = ("--indicators", "120", "--devices", "12", "--events", "1500")


@pytest.fixture
def iocd(tmp_path: Path) -> Run:
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args])
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result.output

    return run


def test_demo_fills_a_fresh_data_directory(iocd: Run) -> None:
    out = iocd("demo", *SMALL)
    assert "5 device groups" in out
    assert "120 indicators" in out
    assert "12 devices" in out
    assert "1,500 telemetry events" in out
    indicators = json.loads(iocd("indicators", "list", "--json", "--top", "1000"))
    assert len(indicators) == 120
    assert {i["indicatorType"] for i in indicators} == {
        "FileSha1",
        "FileSha256",
        "FileMd5",
        "CertificateThumbprint",
        "IpAddress",
        "DomainName",
        "Url",
    }
    actions = {i["action"] for i in indicators}
    assert {"Allowed", "Audit", "Block"} <= actions
    assert [i for i in indicators if i["action"] == "Allowed"]
    alerts = json.loads(iocd("alerts", "list", "--json"))
    assert alerts
    assert {a["detectionSource"] for a in alerts} == {"CustomTI"}
    assert "Servers" in iocd("groups", "list")


def test_demo_refuses_a_list_that_is_not_empty_unless_forced(iocd: Run) -> None:
    iocd("demo", *SMALL)
    refused = iocd("demo", *SMALL, code=1)
    assert "already holds 120 active indicators" in refused
    forced = iocd("demo", *SMALL, "--force")
    assert "0 device groups" in forced  # the groups are there already
