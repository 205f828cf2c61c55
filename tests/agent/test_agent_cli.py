from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

from iocd.agent.main import app
from iocd.agent.policy_cache import PolicyCache
from iocd.agent.protocol import digest_of, write_snapshot
from iocd.agent.state import AgentState
from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType

runner = CliRunner()
BAD = b"bad bytes"
NOISY = b"audited bytes"


def _policy(state: AgentState) -> None:
    items = [
        ListedIndicator(
            1, IndicatorType.FILE_SHA256, hashlib.sha256(BAD).hexdigest(), Action.BLOCK
        ),
        ListedIndicator(2, IndicatorType.FILE_MD5, hashlib.md5(NOISY).hexdigest(), Action.AUDIT),  # noqa: S324
    ]
    PolicyCache(state.policy_dir).save_snapshot(write_snapshot(items), 4, digest_of(items))
    state.update_status(group="Laptops", appliedSequence=4)


def test_scan_quarantine_list_and_restore(tmp_path: Path) -> None:
    state = AgentState(tmp_path / "state")
    _policy(state)
    folder = tmp_path / "files"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "bad.exe").write_bytes(BAD)
    (folder / "audit.txt").write_bytes(NOISY)
    (folder / "fine.txt").write_bytes(b"nothing to see")
    args = ["--state-dir", str(state.folder)]

    result = runner.invoke(app, ["scan", str(folder), *args])
    assert result.exit_code == 3, result.output
    assert "quarantined as " in result.output and "by indicator 1 (Block sha256)" in result.output
    assert "alerted by audit indicator 2" in result.output
    assert (
        "scanned 3 files at policy sequence 4: 1 alerted, 1 clean, 1 quarantined" in result.output
    )
    assert "1 waiting" in result.output  # not enrolled: the batch stays in the spool
    assert not (folder / "deep" / "bad.exe").exists()

    listed = runner.invoke(app, ["quarantine", "list", *args])
    assert listed.exit_code == 0 and "indicator 1" in listed.output
    item_id = listed.output.split()[0]

    (folder / "deep" / "bad.exe").write_bytes(b"someone put another file here")
    refused = runner.invoke(app, ["restore", item_id, *args])
    assert refused.exit_code == 1 and "--force" in refused.output
    restored = runner.invoke(app, ["restore", item_id, "--force", *args])
    assert restored.exit_code == 0, restored.output
    assert (folder / "deep" / "bad.exe").read_bytes() == BAD
    again = runner.invoke(app, ["scan", str(folder), *args])
    assert "exempt" in again.output and again.exit_code == 0
    assert runner.invoke(app, ["restore", "ffff", *args]).exit_code == 1


def test_scan_needs_a_policy(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scan", str(tmp_path), "--state-dir", str(tmp_path / "s")])
    assert result.exit_code == 1 and "no policy" in result.output


def test_status_says_what_is_enforced(tmp_path: Path) -> None:
    state = AgentState(tmp_path / "state")
    _policy(state)
    result = runner.invoke(app, ["--state-dir", str(state.folder), "status"])
    assert result.exit_code == 0, result.output
    assert "not enrolled" in result.output and "group: Laptops" in result.output
    assert "applied sequence: 4" in result.output
    assert "execution-blocking: unavailable" in result.output
    assert "files: alert-only" in result.output and "network: alert-only" in result.output


def test_running_needs_enrolment(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--state-dir", str(tmp_path)])
    assert result.exit_code == 1 and "--enroll-token" in result.output


def test_iocd_command_has_the_agent() -> None:
    from iocd.main import build_app

    result = runner.invoke(build_app(), ["agent", "--help"])
    assert result.exit_code == 0 and "quarantine" in result.output
