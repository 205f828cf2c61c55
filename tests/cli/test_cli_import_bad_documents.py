"""`iocd indicators import` with big and broken STIX and MISP documents: a document that does not
parse imports nothing (also when a second process reads it ahead), and a big one imports whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iocd.cli.main import app
from tests.codecs.test_interchange_bad_input import write_bundle, write_event


@pytest.fixture
def iocd(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args])
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result.output

    return run


def listed(iocd) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return json.loads(iocd("indicators", "list", "--json"))  # type: ignore[no-any-return]


def test_truncated_documents_import_nothing(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bundle = write_bundle(tmp_path / "bundle.json", 20_000)  # > 1 MiB: read ahead
    data = bundle.read_bytes()
    assert len(data) > 1 << 20
    cut = tmp_path / "cut.json"
    cut.write_bytes(data[: len(data) - 100])
    out = iocd("indicators", "import", str(cut), code=1)
    assert "not valid JSON" in out and "created" not in out
    event = write_event(tmp_path / "event.json", 20_000).read_bytes()
    cut.write_bytes(event[: len(event) // 2])
    out = iocd("indicators", "import", str(cut), "--format", "misp", code=1)
    assert "not valid JSON" in out
    assert listed(iocd) == []


def test_a_big_event_imports_whole(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    event = write_event(tmp_path / "event.json", 50_000)
    out = iocd("indicators", "import", str(event), "--json")
    report = json.loads(out)
    assert (report["created"], report["skipped"], report["failed"]) == (50, 49_950, 0)
    assert len(report["items"]) == 10_000 and report["itemsTruncated"] is True
    assert len(listed(iocd)) == 50
