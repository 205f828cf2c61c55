"""`iocd alerts ...` and the sightings of `iocd indicators show`, on a SQLite data directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iocd.cli.main import app
from iocd.compose import Instance, build
from iocd.config import Settings
from iocd.domain.devices import Sighting
from tests.alert_factories import make_detection
from tests.factories import T0

SHA = "e3" * 32
Run = Callable[..., str]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def iocd(data_dir: Path) -> Run:
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--data-dir", str(data_dir), *args])
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result.output

    return run


@pytest.fixture
def instance(data_dir: Path, iocd: Run) -> Instance:
    """The same store the commands use, with one Audit indicator (id 1) on SHA."""
    iocd("indicators", "add", SHA, "--action", "Audit", "--title", "Bad tool", "-s", "High")
    return build(Settings(data_dir=data_dir))


def raise_alerts(instance: Instance) -> None:
    instance.alerts.raise_alerts(
        [
            make_detection(1, "dev-1", T0, SHA),
            make_detection(1, "dev-1", T0 + timedelta(minutes=5), SHA),
            make_detection(1, "dev-2", T0, SHA, historical=True),
        ]
    )


def test_list_show_and_resolve(iocd: Run, instance: Instance) -> None:
    raise_alerts(instance)
    listed = json.loads(iocd("alerts", "list", "--json"))
    assert [(a["id"], a["machineId"], a["occurrences"]) for a in listed] == [
        ("2", "dev-2", 1),
        ("1", "dev-1", 2),
    ]
    table = iocd("alerts", "list", "--device", "dev-2")
    assert "historical" in table and "1 shown" in table
    assert json.loads(iocd("alerts", "list", "--status", "resolved", "--json")) == []
    shown = iocd("alerts", "show", "1")
    assert "title: Bad tool" in shown and "severity: High" in shown
    assert "evidence: entityType=File" in shown
    assert "decision: enforcement: none (alert)" in shown
    out = iocd(
        "alerts",
        "resolve",
        "1",
        "--classification",
        "TruePositive",
        "--determination",
        "Malware",
        "--comment",
        "cleaned up",
    )
    assert "resolved alert 1 (TruePositive, Malware)" in out
    resolved = json.loads(iocd("alerts", "show", "1", "--json"))
    assert resolved["status"] == "Resolved"
    assert [c["comment"] for c in resolved["comments"]] == ["cleaned up"]
    assert [a["id"] for a in json.loads(iocd("alerts", "list", "--status", "New", "--json"))] == [
        "2"
    ]
    assert [a["id"] for a in json.loads(iocd("alerts", "list", "--indicator", "1", "--json"))] == [
        "2",
        "1",
    ]


def test_errors_are_one_clear_line(iocd: Run, instance: Instance) -> None:
    assert "alert 7 not found" in iocd("alerts", "show", "7", code=1)
    raise_alerts(instance)
    out = iocd("alerts", "resolve", "1", "--classification", "Maybe", code=1)
    assert "classification" in out and "TruePositive" in out
    assert "status" in iocd("alerts", "list", "--status", "Open", code=1)


def test_indicator_show_prints_sightings(iocd: Run, instance: Instance) -> None:
    before = json.loads(iocd("indicators", "show", "1", "--json"))
    assert (before["sightingCount"], before["firstSeen"]) == (0, None)
    assert before["authority"] == "Organisation"
    instance.alerts.record_sightings(
        [Sighting(1, "dev-1", T0, T0, 5), Sighting(1, "dev-2", T0, T0 + timedelta(hours=1))]
    )
    shown = iocd("indicators", "show", "1")
    assert "sightingCount: 6" in shown and "sightingDeviceCount: 2" in shown
    assert "lastSeen: 2030-01-01T13:00:00" in shown
