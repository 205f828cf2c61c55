"""Benchmark: reading native telemetry (iocd's own event shape) as NDJSON and as Parquet.

Generates N seeded events (a mix of every kind: hashes on file/process/image events, addresses,
ports and domains on network ones), writes them as NDJSON (text) and as Parquet (the columnar
EVENT_SCHEMA), then times `read_telemetry` over each file: median of 3 runs, events/s.

    python benchmarks/read_telemetry.py [--events 1000000] [--batch-size 65536]

The figures are for the reader alone; `iocd scan` adds matching on top (goal: 500k events/s
end to end from NDJSON, 5M from Parquet).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from common import git_revision, machine

from iocd.codecs.telemetry import ReadReport, read_telemetry

KINDS = ("file", "process", "image_load", "network", "dns", "http", "tls")


def generate(count: int, seed: int = 7) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    start = datetime(2024, 5, 1, tzinfo=UTC)
    rows: list[dict[str, object]] = []
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        row: dict[str, object] = {
            "time": (start + timedelta(microseconds=n * 997)).isoformat().replace("+00:00", "Z"),
            "kind": kind,
            "device_id": f"dev-{n % 5000:05d}",
            "device_name": f"host{n % 5000}",
            "source": "native",
        }
        if kind in ("file", "process", "image_load"):
            row["sha256"] = rnd.randbytes(32).hex()
            row["sha1"] = rnd.randbytes(20).hex()
            row["md5"] = rnd.randbytes(16).hex()
            row["file_name"] = f"f{n % 20000}.exe"
            row["file_path"] = f"C:\\Program Files\\app{n % 300}\\f{n % 20000}.exe"
            row["signature_valid"] = n % 3 != 0
        else:
            row["remote_ip"] = ".".join(str(rnd.randrange(1, 255)) for _ in range(4))
            row["remote_port"] = (443, 80, 53, 8080)[n % 4]
            row["domain"] = f"h{rnd.randrange(50000)}.example{n % 97}.com"
            if kind == "http":
                row["url"] = f"http://{row['domain']}/p/{n % 1000}"
            if kind == "tls":
                row["sni"] = row["domain"]
        rows.append(row)
    return rows


def timed(paths: list[Path], batch_size: int) -> tuple[float, int]:
    runs = []
    rows = 0
    for _ in range(3):
        report = ReadReport()
        began = time.perf_counter()
        rows = sum(b.num_rows for b in read_telemetry(paths, batch_size=batch_size, report=report))
        runs.append(time.perf_counter() - began)
        assert report.skipped == 0, report.summary()
    return statistics.median(runs), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=65536)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}; revision {git_revision()}")
    with tempfile.TemporaryDirectory(prefix="iocd-bench-") as folder:
        ndjson = Path(folder) / "events.ndjson"
        rows = generate(args.events)
        with ndjson.open("w", encoding="utf-8") as stream:
            for row in rows:
                stream.write(json.dumps(row) + "\n")
        del rows
        columnar = pa.Table.from_batches(list(read_telemetry([ndjson])))
        parquet = Path(folder) / "events.parquet"
        pq.write_table(columnar, parquet, row_group_size=args.batch_size)
        for label, path in (("NDJSON", ndjson), ("Parquet", parquet)):
            seconds, count = timed([path], args.batch_size)
            size = path.stat().st_size / 2**20
            print(
                f"{label:8} {count:>10,} events  {size:8.1f} MiB  median {seconds:.3f} s  "
                f"{count / seconds:>12,.0f} events/s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
