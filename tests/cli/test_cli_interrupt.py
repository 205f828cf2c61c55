"""Ctrl-C during a large import leaves the store consistent, and rerunning it completes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from iocd.cli.transfer import FIRST_CHUNK_DIVISOR, IMPORT_CHUNK_ROWS

ROWS = 120_000


def write_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("IndicatorType,IndicatorValue,Action,Title,Description\n")
        for n in range(ROWS):
            out.write(f"FileSha256,{n:064x},Block,bulk {n},interrupt test\n")


def iocd(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    command = Path(sys.executable).with_name("iocd")
    env = {**os.environ, "IOCD_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [str(command), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def consistent_counts(database: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(database)) as db:
        indicators = db.execute("SELECT count(*) FROM indicators").fetchone()[0]
        changes = db.execute("SELECT count(*) FROM changes").fetchone()[0]
        audit = db.execute("SELECT count(*) FROM audit WHERE action = 'created'").fetchone()[0]
        sequence = db.execute("SELECT value FROM counters WHERE name = 'sequence'").fetchone()[0]
        active = db.execute("SELECT value FROM counters WHERE name = 'active'").fetchone()[0]
        gaps = db.execute(
            "SELECT count(*) FROM changes c WHERE c.sequence > 1 AND NOT EXISTS "
            "(SELECT 1 FROM changes p WHERE p.sequence = c.sequence - 1)"
        ).fetchone()[0]
    assert indicators == changes == audit == sequence == active, (
        indicators,
        changes,
        audit,
        sequence,
        active,
    )
    assert gaps == 0
    return indicators, sequence


def interrupt_import(data_dir: Path, source: Path) -> subprocess.Popen[str]:
    """Start an import and press Ctrl-C once at least one chunk is committed; press it again
    if the import is still running 5 s later, as a user would (an interrupt that Python raises
    inside a finaliser is dropped). Answers the finished process."""
    upgrade = iocd(data_dir, "db", "upgrade")
    upgrade.communicate(timeout=60)
    assert upgrade.returncode == 0
    running = iocd(data_dir, "indicators", "import", str(source))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until at least one chunk is committed
        time.sleep(0.2)
        with closing(sqlite3.connect(data_dir / "iocd.sqlite3")) as db:
            if db.execute("SELECT count(*) FROM indicators").fetchone()[0] > 0:
                break
    running.send_signal(signal.SIGINT)
    try:
        running.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        running.send_signal(signal.SIGINT)
        running.communicate(timeout=60)
    return running


@pytest.mark.slow
def test_interrupted_import_keeps_whole_chunks_and_rerun_completes(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    write_csv(source)
    for attempt in range(3):  # an import that ended before the interrupt is tried again
        data_dir = tmp_path / f"data-{attempt}"
        first = interrupt_import(data_dir, source)
        if first.returncode != 0:
            break
    assert first.returncode != 0, "three imports ended before Ctrl-C stopped them"
    database = data_dir / "iocd.sqlite3"

    stored, _ = consistent_counts(database)
    assert 0 < stored < ROWS
    first_chunk = IMPORT_CHUNK_ROWS // FIRST_CHUNK_DIVISOR  # with a read-ahead process
    whole = {stored % IMPORT_CHUNK_ROWS, (stored - first_chunk) % IMPORT_CHUNK_ROWS}
    assert 0 in whole, "only whole chunks are committed"

    second = iocd(data_dir, "indicators", "import", str(source))
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert f"{ROWS - stored:,} created" in out
    assert f"{stored:,} unchanged" in out
    total, sequence = consistent_counts(database)
    assert total == ROWS
    assert sequence == ROWS
