"""Each command group is imported when used (cli.lazy): `iocd indicators import` loads neither
the agent, the other groups, the services it does not use, nor the STIX pattern parser for
patterns that need none; `iocd --help` still lists every command, in its order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from iocd.cli.main import Commands
from iocd.main import build_app

NOT_LOADED = (
    "iocd.agent.main",
    "iocd.cli.alerts",
    "iocd.cli.detection",
    "iocd.services.detection",
    "iocd.feeds.sources",
    "stix2",
)
IMPORT_IN_A_FRESH_PROCESS = """
import json, sys
from typer.testing import CliRunner
from iocd.main import build_app
result = CliRunner().invoke(build_app(), sys.argv[2:])
assert result.exit_code == 0, result.output
print(json.dumps([name for name in sys.argv[1].split(",") if name in sys.modules]))
"""


def bundle(path: Path) -> Path:
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--00000000-0000-4000-8000-000000000001",
        "name": "one",
        "pattern": "[file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [indicator]}))
    return path


def test_an_import_loads_only_what_it_uses(tmp_path: Path) -> None:
    source = bundle(tmp_path / "bundle.json")
    command = ["--data-dir", str(tmp_path / "data"), "indicators", "import", str(source)]
    finished = subprocess.run(
        [sys.executable, "-c", IMPORT_IN_A_FRESH_PROCESS, ",".join(NOT_LOADED), *command],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(finished.stdout.splitlines()[-1]) == []


def test_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(build_app(), ["--help"])
    assert result.exit_code == 0
    commands = result.output.split("Commands", 1)[1]
    named = [line for line in commands.splitlines() if line.startswith("│ ") and line[2] != " "]
    listed = [line.split()[1] for line in named]
    assert listed == [*Commands.order, "agent"]


def test_a_lazy_group_runs_its_commands(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_app(), ["--data-dir", str(tmp_path / "data"), "alerts", "list", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []


def test_a_mistyped_command_is_suggested_without_loading_it() -> None:
    result = CliRunner().invoke(build_app(), ["indicatorz"])
    assert result.exit_code != 0
    assert "Did you mean 'indicators'?" in result.output
