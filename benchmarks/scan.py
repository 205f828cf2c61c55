"""`iocd scan` end to end: NDJSON and Parquet files against 1,000,000 indicators in SQLite.

Fixed seed. The indicators (600k SHA-256, 200k IPs of which 20k CIDR, 150k domains, 50k URLs;
the generator of benchmarks/matching.py) are imported into a fresh SQLite data directory with
`iocd indicators import`; the events (mixed files and connections over 500 devices, about 1% hits)
are written as native NDJSON and as Parquet. Then, for each file:

- the scan phase in this process with the index already built (as `iocd scan` does it: read
  ahead in a thread; group, match, decide; alerts and sightings written to the store by a
  writer thread while the next batch is matched): the first scan of the file, which creates
  the alerts, and then rescans (median of 3), whose matches repeat and update those alerts;
- the real command `iocd scan FILE` in a child process (wall clock: start-up, loading the
  index this process compiled and saved, the scan): first on a copy of the store as it was
  before any scan (new telemetry: alerts created), then after the scans above (alerts
  updated); and `iocd scan FILE --output F`, which writes the alerting matches as JSON lines
  instead of raising alerts in the store; each the median of 3 runs (the host is shared and
  noisy; the store is copied afresh, untimed, before each run on new telemetry);
- baseline in the same run: reading the file alone (`read_telemetry`), median of 3.

    .venv/bin/python benchmarks/scan.py [--ndjson-events 1000000] [--parquet-events 10000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import git_revision, machine
from benchmarks.matching import SEED, Listed, mixed_batch
from iocd.codecs.telemetry import read_telemetry
from iocd.codecs.telemetry.read_ahead import read_ahead
from iocd.compose import build
from iocd.config import Settings
from iocd.matching.columns import EVENT_SCHEMA, batch_to_events
from iocd.services.detection import SCAN_BATCH, ScanReport

BATCH = 1_000_000
DEVICES = 500


def events(rng: np.random.Generator, listed: Listed, count: int) -> pa.RecordBatch:
    """Mixed events of the last day over DEVICES devices (device group left to the server)."""
    batch = mixed_batch(rng, listed, count)
    now = int(datetime.now(UTC).timestamp() * 1_000_000)
    times = pa.array(now - rng.integers(0, 86_400_000_000, size=count), pa.timestamp("us", "UTC"))
    devices = pa.array([f"host-{i:03d}" for i in range(DEVICES)])
    device = pc.take(devices, pa.array(rng.integers(0, DEVICES, size=count)))
    kind = pc.if_else(pc.is_valid(batch.column("sha256")), "process", "network")
    columns = {
        "time": times,
        "kind": kind,
        "device_id": device,
        "device_name": device,
        "source": pa.array(["native"] * count),
        "device_group": pa.nulls(count, pa.string()),
    }
    arrays = [columns.get(f.name, batch.column(f.name)) for f in EVENT_SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)


def write_indicators_csv(listed: Listed, rng: np.random.Generator, path: Path) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["IndicatorType", "IndicatorValue", "Action", "Title", "Description", "GenerateAlert"]
        )
        for item in listed.indicators(rng):
            action = item.action.value
            if item.indicator_type.value != "FileSha256" and action == "BlockAndRemediate":
                action = "Block"
            writer.writerow(
                [item.indicator_type.value, item.value, action, "bench", "generated", "true"]
            )
            count += 1
    return count


def write_events(
    rng: np.random.Generator,
    listed: Listed,
    ndjson: Path,
    ndjson_events: int,
    parquet: Path,
    parquet_events: int,
) -> None:
    with pq.ParquetWriter(parquet, EVENT_SCHEMA, compression="zstd") as writer:
        for start in range(0, parquet_events, BATCH):
            batch = events(rng, listed, min(BATCH, parquet_events - start))
            writer.write_batch(batch)
            if start < ndjson_events:
                _append_ndjson(ndjson, batch.slice(0, min(BATCH, ndjson_events - start)))


def _append_ndjson(path: Path, batch: pa.RecordBatch) -> None:
    with path.open("a", encoding="utf-8") as out:
        for event in batch_to_events(batch):
            row = {
                "time": event.time.isoformat().replace("+00:00", "Z"),
                "kind": event.kind.value,
                "device_id": event.device_id,
                "device_name": event.device_name,
            }
            for name in ("sha256", "sha1", "md5", "remote_ip", "domain", "url", "sni"):
                value = getattr(event, name)
                if value is not None:
                    row[name] = value
            if event.signature_valid is not None:
                row["signature_valid"] = event.signature_valid
                row["signer_trusted"] = event.signer_trusted
            out.write(json.dumps(row) + "\n")


def cli_run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True)


class Timed(NamedTuple):
    """Medians over the runs of a child command: wall seconds and CPU seconds (user + system,
    every thread of the child: what two shared cores must fit)."""

    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall ({self.cpu:.2f} CPU-s)"


def cli_median(
    run: Callable[[], subprocess.CompletedProcess[str]],
    prepare: Callable[[], object] | None = None,
    repeat: int = 3,
) -> tuple[Timed, subprocess.CompletedProcess[str]]:
    """Median wall and CPU seconds of `repeat` runs of a child command (`prepare`, untimed,
    before each), and the last run's result."""
    walls, cpus, done = [], [], None
    for _ in range(repeat):
        if prepare is not None:
            prepare()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = run()
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    assert done is not None
    return Timed(statistics.median(walls), statistics.median(cpus)), done


def median_seconds(action, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ndjson-events", type=int, default=1_000_000)
    parser.add_argument("--parquet-events", type=int, default=10_000_000)
    args = parser.parse_args()
    print(f"scan benchmark; git {git_revision()}; {machine()}")
    work = Path(tempfile.mkdtemp(prefix="iocd-scan-"))
    try:
        rng = np.random.default_rng(SEED)
        listed = Listed(rng)
        data_dir = work / "data"
        env = {**os.environ, "IOCD_DATA_DIR": str(data_dir)}
        iocd = str(Path(sys.executable).with_name("iocd"))
        csv_path = work / "indicators.csv"
        count = write_indicators_csv(listed, rng, csv_path)
        start = time.perf_counter()
        done = subprocess.run(
            [iocd, "indicators", "import", str(csv_path)], env=env, capture_output=True, text=True
        )
        print(
            f"  imported {count:,} indicators in {time.perf_counter() - start:.1f} s: "
            f"{done.stdout.strip().splitlines()[-1] if done.stdout else done.stderr[-300:]}"
        )
        ndjson, parquet = work / "events.ndjson", work / "events.parquet"
        write_events(rng, listed, ndjson, args.ndjson_events, parquet, args.parquet_events)
        print(
            f"  events: {args.ndjson_events:,} NDJSON ({ndjson.stat().st_size >> 20} MiB), "
            f"{args.parquet_events:,} Parquet ({parquet.stat().st_size >> 20} MiB)"
        )

        # As after a first run of the command, which writes Python's bytecode cache (unless
        # PYTHONDONTWRITEBYTECODE is set, as on some CI hosts: then every start compiles).
        package = Path(__file__).resolve().parent.parent / "iocd"
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
        instance = build(Settings(data_dir=data_dir))
        start = time.perf_counter()
        instance.detection.keeper.refresh()
        print(
            f"  index compiled from the store (and saved) in {time.perf_counter() - start:.1f} s "
            f"({len(instance.detection.keeper.current):,} indicators)"
        )
        start = time.perf_counter()
        build(Settings(data_dir=data_dir)).detection.keeper.refresh()
        print(f"  index loaded from the saved file in {time.perf_counter() - start:.2f} s")
        # The store before any scan, for a first `iocd scan`. Copied by a child process: this
        # one holds the database open, and closing another descriptor of its files here
        # would drop SQLite's POSIX locks on them.
        pristine = work / "pristine"
        subprocess.run(["cp", "-a", str(data_dir), str(pristine)], check=True)
        one = work / "one.ndjson"  # start-up alone: the command on a file of one event
        one.write_text(ndjson.open(encoding="utf-8").readline(), encoding="utf-8")
        startup, _ = cli_median(lambda: cli_run([iocd, "scan", str(one)], env))
        print(f"  iocd scan of a one-event file (start-up), median of 3: {startup}")
        for path, total, goal in (
            (ndjson, args.ndjson_events, 500_000),
            (parquet, args.parquet_events, 5_000_000),
        ):
            kind = path.suffix.lstrip(".")

            fresh = work / f"fresh-{kind}"  # the store before any scan: alerts are created

            def renew(fresh: Path = fresh) -> None:
                shutil.rmtree(fresh, ignore_errors=True)
                shutil.copytree(pristine, fresh)

            new_wall, new = cli_median(
                lambda p=path, f=fresh: cli_run(
                    [iocd, "scan", str(p)], {**env, "IOCD_DATA_DIR": str(f)}
                ),
                renew,
            )
            shutil.rmtree(fresh)
            read = median_seconds(
                lambda p=path: sum(b.num_rows for b in read_telemetry([p], batch_size=SCAN_BATCH))
            )

            def scan(p: Path = path) -> ScanReport:
                report = ScanReport()
                batches = read_ahead(read_telemetry([p], batch_size=SCAN_BATCH))  # as iocd scan
                for part in instance.detection.scan_many(batches):
                    report.add(part)
                return report

            start = time.perf_counter()
            first = scan()
            first_seconds = time.perf_counter() - start
            reports: list[ScanReport] = []
            again = median_seconds(lambda kept=reports: kept.append(scan()))
            wall, cli = cli_median(lambda p=path: cli_run([iocd, "scan", str(p)], env))
            print(f"{kind}: {total:,} events, {first.matched_events:,} matched")
            print(f"  read only (baseline)          {total / read / 1e6:6.2f} M events/s")
            for label, seconds in (
                (f"first scan ({first.alerts_created:,} alerts created)", first_seconds),
                (f"rescan ({reports[-1].alerts_updated:,} alerts updated), median of 3", again),
            ):
                rate = total / seconds
                print(
                    f"  {label}: {rate / 1e6:.2f} M events/s (goal >= {goal / 1e6:g} M/s: "
                    f"{'met' if rate >= goal else 'NOT met'}); ratio to reading alone "
                    f"{read / seconds:.2f}"
                )
            print(
                f"  iocd scan of new telemetry, median of 3 (child: start-up, saved index "
                f"loaded, scan; alerts created) {new_wall} = "
                f"{total / new_wall.wall / 1e6:.2f} M events/s; exit "
                f"{new.returncode}: "
                f"{new.stdout.strip().splitlines()[0] if new.stdout else new.stderr[-200:]}"
            )
            print(
                f"  iocd scan again (alerts updated), median of 3: {wall} = "
                f"{total / wall.wall / 1e6:.2f} M events/s; exit {cli.returncode}: "
                f"{cli.stdout.strip().splitlines()[0] if cli.stdout else cli.stderr[-200:]}"
            )
            lines = work / f"{kind}-alerts.jsonl"
            out_wall, out = cli_median(
                lambda p=path, o=lines: cli_run([iocd, "scan", str(p), "--output", str(o)], env)
            )
            print(
                f"  iocd scan --output FILE, median of 3 (alerting matches as JSON lines, "
                f"nothing written to the store) {out_wall} = "
                f"{total / out_wall.wall / 1e6:.2f} M events/s; exit "
                f"{out.returncode}: {out.stdout.strip().splitlines()[0] if out.stdout else ''}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
