"""Benchmark: rendering the outputs for enforcement points from 1,000,000 indicators (issue 7,
point 5).

Imports N indicators of every type into a fresh SQLite store with the real `iocd indicators
import` (`--data-dir` reuses a store made before; a quarter of the rows are Block, a quarter
Allowed, 10% scoped to device groups), then, each in a fresh process so its peak memory is its
own, `--repeat` times (the median is printed): the baseline (the store's streamed read of the
same rows as Indicator objects, `Store.iterate`, nothing rendered), the narrow read the outputs
use (`Store.output_rows`), then every output written to /dev/null as `iocd outputs write`
does, uncapped and with a cap. Prints rows read (indicators of the output's types and actions
in its view), lines written, the median wall time, rows per second and the largest peak RSS.

    python benchmarks/outputs.py [--rows 1000000] [--data-dir DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
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
    from iocd.domain.query import And, In, IndicatorQuery
    kind, name, cap, mode = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    instance = build(Settings(data_dir=Path(sys.argv[1])))
    start = time.perf_counter()
    request = OutputRequest(OutputKind(kind), name, cap=int(cap) if cap != "-" else None)
    spec = spec_of(request)
    types = sorted(t.value for t in spec.types)
    actions = sorted(a.value for a in spec.actions)
    if mode == "baseline":
        where = And((In("indicatorType", tuple(types)), In("action", tuple(actions))))
        query = IndicatorQuery(where=where)
        rows = lines = sum(1 for _ in instance.store.iterate(query, instance.clock.now()))
    elif mode == "narrow":
        batches = instance.store.output_rows(types, actions, instance.clock.now())
        rows = lines = sum(len(b) for b in batches)
    else:
        selection = instance.outputs.select(request, Principal("b", Role.READ_ONLY, "Cli"))
        lines = 0
        with open("/dev/null", "w") as out:
            for piece in render(selection):
                out.write(piece)
                lines += piece.count("\\n")
        rows = selection.tally.written + selection.omitted_by_cap + selection.tally.exempted
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{rows} {lines} {elapsed:.3f} {peak:.0f}")
    """
)
CASES = [
    ("baseline: store read of EDL domain rows", "edl", "domain", "-", "baseline"),
    ("narrow read of EDL domain rows", "edl", "domain", "-", "narrow"),
    ("EDL domain", "edl", "domain", "-", "render"),
    ("EDL ip", "edl", "ip", "-", "render"),
    ("RPZ (domains)", "rpz", "", "-", "render"),
    ("baseline: store read of Suricata rows", "suricata", "", "-", "baseline"),
    ("narrow read of Suricata rows", "suricata", "", "-", "narrow"),
    ("Suricata rules (all network + hashes)", "suricata", "", "-", "render"),
    ("Suricata rules, cap 100,000", "suricata", "", "100000", "render"),
    ("ClamAV .hsb (3 hash types)", "clamav", "", "-", "render"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse (or keep) this store")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median shown)")
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
            f"{'output (median of ' + str(args.repeat) + ' runs)':42} {'rows read':>10} "
            f"{'lines':>10} {'seconds':>8} {'rows/s':>10} {'peak RSS':>9}"
        )
        for label, kind, name, cap, mode in CASES:
            runs = []
            for _ in range(args.repeat):
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(data_dir), kind, name, cap, mode],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{label} failed: {done.stderr[-2000:]}")
                rows, lines, seconds, peak = done.stdout.split()
                runs.append((float(seconds), int(rows), int(lines), int(peak)))
            seconds = statistics.median(r[0] for r in runs)
            rows_read, lines_written = runs[0][1], runs[0][2]
            peak_mib = max(r[3] for r in runs)
            rate = rows_read / max(seconds, 1e-9)
            print(
                f"{label:42} {rows_read:>10,} {lines_written:>10,} {seconds:>8.2f} "
                f"{rate:>10,.0f} {peak_mib:>6} MiB",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
