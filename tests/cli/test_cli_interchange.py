"""`iocd indicators import|export --format stix|misp` end to end, round trips included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pymisp import MISPEvent
from stix2validator import ValidationOptions, validate_file
from typer.testing import CliRunner

from iocd.cli.main import app

GOLDEN = Path(__file__).resolve().parents[1] / "codecs" / "golden"


@pytest.fixture
def iocd(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    data_dir = tmp_path / "data"

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--data-dir", str(data_dir), *args])
        output = result.output
        assert result.exit_code == code, f"exit {result.exit_code}: {output}"
        return output

    return run


def listed(iocd) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return json.loads(iocd("indicators", "list", "--json"))  # type: ignore[no-any-return]


def test_stix_bundle_is_detected_and_skips_are_reported(iocd) -> None:  # type: ignore[no-untyped-def]
    bundle = GOLDEN / "stix" / "indicators-for-C2-with-COA.json"
    out = iocd("indicators", "import", str(bundle))
    assert "2 created" in out
    email = GOLDEN / "stix" / "malicious-email-indicator-with-attachment.json"
    out = iocd("indicators", "import", str(email), "--format", "stix")
    assert "2 failed (2 of them skipped)" in out
    assert "item 3: skipped: indicator--8cf9236f" in out and "MATCHES" in out
    rows = listed(iocd)
    assert {r["externalId"] for r in rows} == {
        "indicator--53fe3b22-0201-47cf-85d0-97c02164528d",
        "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
    }
    assert {r["action"] for r in rows} == {"Audit"}


def test_misp_event_with_action_guardrails_and_skips(iocd) -> None:  # type: ignore[no-untyped-def]
    event = str(GOLDEN / "misp" / "to_delete2.json")
    out = iocd("indicators", "import", event, "--action", "Block", "-s", "High", code=1)
    assert "110 created" in out and "18 failed (15 of them skipped)" in out
    assert "item 91: refused by guardrail: 10.10.30.110" in out
    assert "skipped: to_ids is off" in out or "skipped: MISP type" in out
    out = iocd("indicators", "import", event, "--action", "Block", "-s", "High", code=1)
    assert "0 created" in out  # values repeated in the event update each other: not 0 updated
    assert {r["action"] for r in listed(iocd)} == {"Block"}


def test_misp_skips_alone_do_not_fail_the_import(iocd) -> None:  # type: ignore[no-untyped-def]
    out = iocd("indicators", "import", str(GOLDEN / "misp" / "misp_event.json"))
    assert "2 failed (2 of them skipped)" in out


def test_malformed_json_is_one_clear_error_and_nothing_imported(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "bundle", "objects": [{"type": "indicator", ')
    out = iocd("indicators", "import", str(broken), "--format", "stix", code=1)
    assert "not valid JSON" in out
    out = iocd("indicators", "import", str(broken), "--format", "misp", code=1)
    assert "not valid JSON" in out
    assert listed(iocd) == []


def test_bad_format_name(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = iocd("indicators", "import", str(tmp_path), "--format", "xml", code=1)
    assert "is not a readable file" in out or "expected auto, csv, list, stix or misp" in out


def test_stix_export_validates_and_round_trips(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    template = tmp_path / "sample.csv"
    iocd("csv-template", str(template))
    iocd("indicators", "import", str(template))
    exported = tmp_path / "all.stix.json"
    assert "exported 7" in iocd("indicators", "export", str(exported), "--format", "stix")
    result = validate_file(str(exported), ValidationOptions(version="2.1", strict=True))
    assert result.is_valid
    again = iocd("indicators", "export", str(tmp_path / "again.json"), "--format", "stix")
    assert "exported 7" in again
    ids = [o["id"] for o in json.loads(exported.read_text())["objects"]]
    assert ids == [o["id"] for o in json.loads((tmp_path / "again.json").read_text())["objects"]]
    # Importing the export into a fresh store gives the same values.
    fresh = CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path / "fresh"), "indicators", "import", str(exported)],
    )
    assert fresh.exit_code == 0, fresh.output
    assert "7 created" in fresh.output


def test_misp_export_loads_in_pymisp_and_round_trips(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    template = tmp_path / "sample.csv"
    iocd("csv-template", str(template))
    iocd("indicators", "import", str(template))
    exported = tmp_path / "all.misp.json"
    only_urls = iocd("indicators", "export", str(exported), "--format", "misp", "--type", "Url")
    assert "exported 1 " in only_urls
    assert "exported 7 " in iocd("indicators", "export", str(exported), "--format", "misp")
    event = MISPEvent()
    event.load(exported.read_text())
    assert len(event.attributes) == 7
    before = {(r["indicatorType"], r["indicatorValue"]) for r in listed(iocd)}
    fresh = CliRunner().invoke(
        app,
        ["--data-dir", str(tmp_path / "fresh"), "indicators", "import", str(exported)],
    )
    assert fresh.exit_code == 0, fresh.output
    assert "7 created" in fresh.output
    reread = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "fresh"), "indicators", "list", "--json"]
    )
    assert {(r["indicatorType"], r["indicatorValue"]) for r in json.loads(reread.output)} == before
