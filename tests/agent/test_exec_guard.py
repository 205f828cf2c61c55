"""Execution blocking: fanotify permission events deny a blocked file before it runs.

The real tests need root and a kernel with fanotify permission events (this machine and CI have
both); elsewhere they skip with the reason `exec_guard.available()` gives.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from iocd.agent import exec_guard
from iocd.agent.enforcement import EXECUTION_BLOCKING, QUARANTINE_AFTER_WRITE, detect
from iocd.agent.exec_guard import FAN_OPEN_EXEC_PERM, METADATA, ExecGuard
from iocd.agent.hashing import FileHashes
from iocd.agent.policy import Policy
from iocd.agent.protect import Device, Protector
from iocd.agent.quarantine import Exemptions, QuarantineItem, Vault
from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType

AVAILABLE, REASON = exec_guard.available()
needs_fanotify = pytest.mark.skipif(not AVAILABLE, reason=f"execution blocking: {REASON}")
TRUE = shutil.which("true") or "/usr/bin/true"


def _program(folder: Path, name: str, tail: bytes) -> Path:
    """A copy of `true` made unique by bytes after its end (it still runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(Path(TRUE).read_bytes() + tail)
    path.chmod(0o755)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Guarded:
    def __init__(self, root: Path) -> None:
        self.watched = root / "watched"
        self.blocked = _program(self.watched, "blocked", b"iocd-blocked")
        self.clean = _program(self.watched, "clean", b"iocd-clean")
        self.outside = _program(root / "outside", "blocked-elsewhere", b"iocd-blocked")
        self.policy = Policy.from_snapshot(
            [ListedIndicator(1, IndicatorType.FILE_SHA256, _sha256(self.blocked), Action.BLOCK)],
            1,
            None,
        )
        self.vault = Vault(root / "vault")
        self.protector = Protector(
            lambda: self.policy,
            self.vault,
            None,
            Exemptions(root / "restored.json"),
            lambda: Device("device-1", "host-1", "Servers"),
        )
        self.guard = ExecGuard(
            [self.watched],
            lambda: self.policy.hash_types,
            self.protector.blocks,
            self._denied,
        )
        self.handled = threading.Event()

    def _denied(self, path: str) -> None:
        self.protector.check(path, blocked_execution=True)
        self.handled.set()

    def quarantined(self) -> list[QuarantineItem]:
        """The vault's items once the guard's thread has moved the denied file (it does so
        right after answering the kernel, so the child may fail before the move)."""
        assert self.handled.wait(20)
        return self.vault.items()


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Guarded]:
    setup = Guarded(tmp_path)
    setup.guard.start()
    try:
        yield setup
    finally:
        setup.guard.stop()


@needs_fanotify
def test_a_blocked_file_is_denied_before_it_runs_then_quarantined(guarded: Guarded) -> None:
    expected = _sha256(guarded.blocked)
    with pytest.raises(PermissionError):
        subprocess.run([str(guarded.blocked)], check=True, timeout=30)
    items = guarded.quarantined()
    assert guarded.guard.denied == 1
    assert [i.hashes["sha256"] for i in items] == [expected]
    assert not guarded.blocked.exists()


@needs_fanotify
def test_clean_files_and_files_outside_the_watched_folders_run(guarded: Guarded) -> None:
    assert subprocess.run([str(guarded.clean)], timeout=30).returncode == 0
    assert subprocess.run([str(guarded.outside)], timeout=30).returncode == 0
    assert subprocess.run([TRUE], timeout=30).returncode == 0
    assert guarded.guard.denied == 0
    assert guarded.vault.items() == []


@needs_fanotify
def test_a_file_restored_by_a_person_runs(guarded: Guarded) -> None:
    with pytest.raises(PermissionError):
        subprocess.run([str(guarded.blocked)], check=True, timeout=30)
    item = guarded.vault.restore(guarded.quarantined()[0].id)
    guarded.protector.exemptions.add(item)  # what `iocd agent restore` does
    assert subprocess.run([str(guarded.blocked)], timeout=30).returncode == 0


@needs_fanotify
def test_a_failing_decision_allows_the_execution(
    guarded: Guarded, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(path: str, hashes: FileHashes) -> bool:
        raise RuntimeError("policy unreadable")

    guarded.guard.verdict = broken
    with caplog.at_level(logging.ERROR, logger="iocd.agent.exec_guard"):
        assert subprocess.run([str(guarded.blocked)], timeout=30).returncode == 0
    assert "could not decide" in caplog.text
    assert guarded.blocked.exists()


@needs_fanotify
def test_after_stop_nothing_is_blocked(tmp_path: Path) -> None:
    setup = Guarded(tmp_path)
    setup.guard.start()
    setup.guard.stop()
    assert subprocess.run([str(setup.blocked)], timeout=30).returncode == 0


@needs_fanotify
def test_status_names_execution_blocking_when_folders_are_watched() -> None:
    assert detect(True).files == EXECUTION_BLOCKING
    assert detect(True, exec_block=False).files == QUARANTINE_AFTER_WRITE
    found = {c.name: c for c in detect(False).capabilities}
    assert not found[EXECUTION_BLOCKING].available
    assert "no folder is watched" in found[EXECUTION_BLOCKING].reason


def test_events_are_read_from_the_kernels_records() -> None:
    records = METADATA.pack(METADATA.size, 3, 0, METADATA.size, FAN_OPEN_EXEC_PERM, 7, 100)
    records += METADATA.pack(METADATA.size, 3, 0, METADATA.size, FAN_OPEN_EXEC_PERM, 9, 101)
    assert ExecGuard._events(records) == [7, 9]


def test_an_unknown_record_version_stops_reading(caplog: pytest.LogCaptureFixture) -> None:
    records = METADATA.pack(METADATA.size, 99, 0, METADATA.size, FAN_OPEN_EXEC_PERM, -1, 1)
    with caplog.at_level(logging.ERROR, logger="iocd.agent.exec_guard"):
        assert ExecGuard._events(records) == []
    assert "unexpected event version" in caplog.text


def test_without_root_status_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exec_guard.os, "geteuid", lambda: 1000)
    assert exec_guard.available() == (False, "needs root")
    found = {c.name: c for c in detect(True).capabilities}
    assert found[EXECUTION_BLOCKING].reason == "needs root"
    assert detect(True).files == QUARANTINE_AFTER_WRITE
