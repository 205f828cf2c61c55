"""`iocd investigations run | list | show` on a SQLite data directory."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from iocd.cli.main import app
from iocd.compose import build
from iocd.config import Settings
from iocd.domain.verdicts import parse_verdict
from tests.alert_factories import make_detection
from tests.factories import T0
from tests.services.test_detection_service import ADMIN

SHA = "e4" * 32


def test_run_list_and_show(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runner = CliRunner()

    def iocd(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--data-dir", str(data_dir), *args])
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result.output

    iocd("indicators", "add", SHA, "--action", "Allowed", "--title", "Our tool")
    instance = build(Settings(data_dir=data_dir))
    instance.alerts.raise_alerts([make_detection(1, "dev-1", T0, SHA)])
    body = {
        "detector": "Scanner",
        "verdict": "Malicious",
        "deviceId": "dev-2",
        "entityType": "File",
    }
    instance.investigations.submit_verdict(ADMIN, parse_verdict({**body, "md5": "a" * 32}, T0))

    assert "investigated 2 alerts" in iocd("investigations", "run")
    assert "investigated 0 alerts" in iocd("investigations", "run")
    listed = json.loads(iocd("investigations", "list", "--json"))
    assert [i["verdictSource"] for i in listed] == ["Engine", "External"]
    assert listed[0]["outcome"] == "AllowedByIndicator"
    assert listed[1]["outcome"] == "NoListVerdict"
    assert "2 shown of 2" in iocd("investigations", "list")
    shown = iocd("investigations", "show", listed[0]["id"])
    assert "list applied" in shown and "AllowedByIndicator" in shown
    detail = json.loads(iocd("investigations", "show", listed[0]["id"], "--json"))
    assert detail["tasks"] == []
    assert "not found" in iocd("investigations", "show", "99", code=1)
    assert iocd("investigations", "list", "--status", "Running", "--json").strip() == "[]"
