"""`iocd scan` and `iocd explain` on a SQLite data directory, with real Sysmon and Zeek samples."""

from __future__ import annotations

import gc
import gzip
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from iocd.cli.collector import SCAN_SWITCH_INTERVAL
from iocd.cli.main import app
from iocd.services.detection import DetectionService

GOLDEN = Path(__file__).resolve().parents[1] / "codecs/telemetry/golden"
SYSMON = GOLDEN / "sysmon_flat.jsonl"
ZEEK_DNS = GOLDEN / "zeek_tsv_dns.log"
SHA = "e9196b871670af6307902fc4ca09f7cf3c309ae54b28e10d052ed8741090f928"
Run = Callable[..., str]


@pytest.fixture
def iocd(tmp_path: Path) -> Run:
    runner = CliRunner()

    def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
        result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args], env=env)
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result.output

    return run


def test_scan_raises_alerts_in_the_store(iocd: Run) -> None:
    iocd("indicators", "add", SHA, "-a", "Block", "--title", "Known bad", "-s", "High", "--alert")
    out = iocd("scan", str(SYSMON))
    assert "matched" in out
    assert "1 alerts raised" in out
    (alert,) = json.loads(iocd("alerts", "list", "--json"))
    assert alert["title"] == "Known bad"
    assert alert["computerDnsName"]
    shown = iocd("indicators", "show", "1")
    assert "sighting" in shown.lower()


def test_the_collector_and_switch_interval_are_set_while_scanning_and_back_after(
    iocd: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan_many = DetectionService.scan_many
    seen: list[bool] = []

    usual = sys.getswitchinterval()
    switches: list[float] = []

    def watched(self: DetectionService, batches: Iterable[pa.RecordBatch]) -> Iterator[Any]:
        seen.append(gc.isenabled())
        switches.append(sys.getswitchinterval())
        yield from scan_many(self, batches)

    monkeypatch.setattr(DetectionService, "scan_many", watched)
    assert "scanned" in iocd("scan", str(SYSMON))
    assert seen == [False]
    assert switches == [pytest.approx(SCAN_SWITCH_INTERVAL)]  # threads hand over sooner
    assert gc.isenabled()
    assert sys.getswitchinterval() == usual

    def broken(self: DetectionService, batches: Iterable[pa.RecordBatch]) -> Iterator[Any]:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(DetectionService, "scan_many", broken)
    iocd("scan", str(SYSMON), code=1)
    assert gc.isenabled()
    assert sys.getswitchinterval() == usual


def test_scan_to_json_lines_writes_nothing_to_the_store(iocd: Run, tmp_path: Path) -> None:
    iocd("indicators", "add", SHA, "--action", "Audit", "--title", "Watch")
    packed = tmp_path / "sysmon.jsonl.gz"
    packed.write_bytes(gzip.compress(SYSMON.read_bytes()))
    target = tmp_path / "hits.jsonl"
    iocd("scan", str(packed), "--format", "sysmon", "--output", str(target))
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines
    assert {line["entity"] for line in lines} == {SHA}
    assert lines[0]["decision"]["enforcement"] == "none"
    assert json.loads(iocd("alerts", "list", "--json")) == []


def test_scan_zeek_keep_then_hunt_raises_historical_alerts(iocd: Run) -> None:
    iocd("scan", str(ZEEK_DNS), "--keep")
    iocd("indicators", "add", "192.168.1.4", "--action", "Audit", "--title", "Old resolver")
    out = iocd("hunt", env={"IOCD_HUNT_LOOKBACK_DAYS": "100000"})
    assert "historical alerts raised" in out
    listed = json.loads(iocd("alerts", "list", "--json"))
    assert listed
    assert all(alert["historical"] for alert in listed)
    assert {alert["entityType"] for alert in listed} == {"Ip"}
    again = iocd("hunt", env={"IOCD_HUNT_LOOKBACK_DAYS": "100000"})
    assert "0 historical alerts raised" in again


def test_kept_events_are_scanned_once_whatever_runs_later(iocd: Run) -> None:
    iocd("indicators", "add", "192.168.1.4", "--action", "Audit", "--title", "Old resolver")
    out = iocd("scan", str(ZEEK_DNS), "--keep")
    assert out.startswith("stored ") and "1 alerts raised" in out
    (alert,) = json.loads(iocd("alerts", "list", "--json"))
    matched = alert["occurrences"]
    assert matched > 1 and not alert["historical"]
    later = iocd("hunt", env={"IOCD_HUNT_LOOKBACK_DAYS": "100000"})
    assert "catch-up scan: 0 events" in later  # the engine does not scan them again
    (again,) = json.loads(iocd("alerts", "list", "--json"))
    assert again["occurrences"] == matched
    shown = json.loads(iocd("indicators", "show", "1", "--json"))
    assert shown["sightingCount"] == matched


def test_explain_prints_the_trace_and_json(iocd: Run) -> None:
    iocd("indicators", "add", "evil.example", "--action", "Block", "--title", "parent")
    iocd("indicators", "add", "ok.evil.example", "--action", "Allowed", "--title", "child")
    out = iocd("explain", "--device", "laptop-1", "--domain", "x.ok.evil.example")
    assert "enforcement: allow" in out
    assert "specificity" in out
    data = json.loads(
        iocd("explain", "--device", "laptop-1", "--domain", "x.ok.evil.example", "--json")
    )
    assert data["entities"][0]["decision"]["enforcement"] == "allow"


def test_bad_input_is_one_clear_line(iocd: Run, tmp_path: Path) -> None:
    out = iocd("scan", str(tmp_path / "missing.jsonl"), code=1)
    assert "is not a file" in out
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x1f\x8b\x08\x00broken")
    assert "error" in iocd("scan", str(garbage), code=1)
    out = iocd("scan", str(SYSMON), "--format", "pcap", code=1)
    assert "unknown format" in out
    assert "give a hash" in iocd("explain", "--device", "d", code=1)
