"""Benchmark: import N indicators from CSV into a fresh SQLite (or PostgreSQL) store, end to end.

Runs the real command (`iocd indicators import FILE`) in a child process and reports rows/s and
the child's peak resident memory, next to a baseline measured in the same run: the time the CSV
reader alone takes over the same file (so a noisy machine shows in both figures).

    python benchmarks/import_csv.py [--rows 1000000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import csv_rows, git_revision, machine

from iocd.codecs.csv import read_csv


def write_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.writelines(csv_rows(rows))


def reader_baseline(path: Path) -> float:
    start = time.perf_counter()
    with path.open("rb") as stream:
        count = sum(1 for _ in read_csv(stream))
    elapsed = time.perf_counter() - start
    return count / elapsed


def run_import(path: Path, data_dir: Path, database_url: str | None) -> tuple[float, float, str]:
    env = {**os.environ, "IOCD_DATA_DIR": str(data_dir)}
    if database_url:
        env["IOCD_DATABASE_URL"] = database_url
    iocd = Path(sys.executable).with_name("iocd")
    subprocess.run([str(iocd), "db", "upgrade"], env=env, check=True, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(
        [str(iocd), "indicators", "import", str(path)], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, max(peak_kib, before) / 1024, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", type=Path, default=None, help="keep the data directory here")
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    work = Path(tempfile.mkdtemp(prefix="iocd-bench-"))
    try:
        csv_path = work / "indicators.csv"
        write_file(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 2**20
        baseline = reader_baseline(csv_path)
        data_dir = args.keep or work / "data"
        elapsed, peak_mb, summary = run_import(csv_path, data_dir, args.database_url)
        store = "PostgreSQL" if args.database_url else "SQLite"
        rate = args.rows / elapsed
        print(f"file: {args.rows:,} rows, {size_mb:.0f} MiB; store: {store}")
        print(f"import result: {summary}")
        print(f"end to end: {elapsed:.1f} s = {rate:,.0f} rows/s (goal >= 20,000)")
        print(f"peak memory of the import process: {peak_mb:.0f} MB (goal < 500)")
        print(
            f"baseline, CSV reader alone: {baseline:,.0f} rows/s; import/reader = "
            f"{rate / baseline:.2f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
