"""Benchmark: rendering the outputs for enforcement points from 1,000,000 indicators (issue 7,
point 5).

Imports N indicators of every type into a fresh SQLite store with the real `iocd indicators
import` (`--data-dir` reuses a store made before; a quarter of the rows are Block, a quarter
Allowed, 10% scoped to device groups), then, each in a fresh process so its peak memory is its
own: the baseline (the store's streamed read of the same rows, nothing rendered), then every
output written to /dev/null as `iocd outputs write` does, uncapped and with a cap. Prints rows
read per second (indicators of the output's types and actions), lines written, wall time and
the process's peak RSS.

    python benchmarks/outputs.py [--rows 1000000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from common import git_revision, machine
from import_csv import run_import, write_file

CHILD = textwrap.dedent(
    """
    import resource, sys, time
    from pathlib import Path
    from iocd.compose import build
    from iocd.config import Settings
    from iocd.codecs.outputs import render
    from iocd.domain.outputs import OutputKind, OutputRequest, spec_of
    from iocd.domain.principal import Principal, Role
    from iocd.services.outputs import _query
    kind, name, cap = sys.argv[2], sys.argv[3], sys.argv[4]
    instance = build(Settings(data_dir=Path(sys.argv[1])))
    start = time.perf_counter()
    request = OutputRequest(OutputKind(kind), name, cap=int(cap) if cap != "-" else None)
    if sys.argv[5] == "baseline":
        spec = spec_of(request)
        query = _query(spec.types, spec.actions)
        rows = lines = sum(1 for _ in instance.store.iterate(query, instance.clock.now()))
    else:
        selection = instance.outputs.select(request, Principal("b", Role.READ_ONLY, "Cli"))
        lines = 0
        with open("/dev/null", "w") as out:
            for line in render(selection):
                out.write(line)
                lines += 1
        rows = selection.tally.written + selection.omitted_by_cap + selection.tally.exempted
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{rows} {lines} {elapsed:.2f} {peak:.0f}")
    """
)
CASES = [
    ("baseline: store read of EDL domain rows", "edl", "domain", "-", "baseline"),
    ("EDL domain", "edl", "domain", "-", "render"),
    ("EDL ip", "edl", "ip", "-", "render"),
    ("RPZ (domains)", "rpz", "", "-", "render"),
    ("baseline: store read of Suricata rows", "suricata", "", "-", "baseline"),
    ("Suricata rules (all network + hashes)", "suricata", "", "-", "render"),
    ("Suricata rules, cap 100,000", "suricata", "", "100000", "render"),
    ("ClamAV .hsb (3 hash types)", "clamav", "", "-", "render"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse (or keep) this store")
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    work = Path(tempfile.mkdtemp(prefix="iocd-bench-outputs-"))
    data_dir = args.data_dir or work / "data"
    try:
        if not (data_dir / "iocd.sqlite3").exists():
            source = work / "indicators.csv"
            write_file(source, args.rows)
            elapsed, _, _ = run_import(source, data_dir, None)
            print(f"imported {args.rows:,} indicators in {elapsed:.1f} s")
        print(
            f"{'output':42} {'rows read':>10} {'lines':>10} {'seconds':>8} {'rows/s':>10} "
            f"{'peak RSS':>9}"
        )
        for label, kind, name, cap, mode in CASES:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(data_dir), kind, name, cap, mode],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"{label} failed: {done.stderr[-2000:]}")
            rows, lines, seconds, peak = done.stdout.split()
            rate = int(rows) / max(float(seconds), 1e-9)
            print(
                f"{label:42} {int(rows):>10,} {int(lines):>10,} {float(seconds):>8.2f} "
                f"{rate:>10,.0f} {peak:>6} MiB"
            )
    finally:
        if args.data_dir is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
