"""The garbage collector while a command starts (iocd.cli.collector): passes are rare from the
entry point on, and back to the interpreter's thresholds once the command has started."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iocd import main as entry
from iocd.cli.collector import (
    SCAN_SWITCH_INTERVAL,
    START_UP_THRESHOLDS,
    USUAL_THRESHOLDS,
    paused,
    quick_switches,
    quiet_start,
    started,
)


@pytest.fixture(autouse=True)
def usual_thresholds_after() -> Iterator[None]:
    yield
    gc.set_threshold(*USUAL_THRESHOLDS)


def test_started_puts_the_thresholds_back_and_freezes_what_start_up_made() -> None:
    quiet_start()
    assert gc.get_threshold() == START_UP_THRESHOLDS
    made = [[n] for n in range(1000)]  # containers the collector tracks
    started()
    assert gc.get_threshold() == USUAL_THRESHOLDS
    assert gc.get_freeze_count() >= len(made)


def test_a_command_that_builds_its_instance_has_started(tmp_path: Path) -> None:
    quiet_start()
    result = CliRunner().invoke(
        entry.build_app(), ["--data-dir", str(tmp_path), "indicators", "list"]
    )
    assert result.exit_code == 0, result.output
    assert gc.get_threshold() == USUAL_THRESHOLDS


def test_main_starts_quietly_and_an_agent_command_starts_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.argv", ["iocd", "version"])
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 0
    assert gc.get_threshold() == START_UP_THRESHOLDS  # `version` opens no store
    monkeypatch.setattr("sys.argv", ["iocd", "agent", "--help"])
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 0
    assert gc.get_threshold() == USUAL_THRESHOLDS


def test_paused_stops_the_collector_and_starts_it_again_even_on_error() -> None:
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused():
        raise RuntimeError("the scan failed")
    assert gc.isenabled()


def test_quick_switches_shorten_the_switch_interval_and_restore_it_even_on_error() -> None:
    before = sys.getswitchinterval()
    with quick_switches():
        assert sys.getswitchinterval() == pytest.approx(SCAN_SWITCH_INTERVAL)
    assert sys.getswitchinterval() == before
    seen: list[float] = []

    def failing_scan() -> None:
        with quick_switches(0.002):
            seen.append(sys.getswitchinterval())
            raise RuntimeError("the scan failed")

    with pytest.raises(RuntimeError):
        failing_scan()
    assert seen == [pytest.approx(0.002)]
    assert sys.getswitchinterval() == before
