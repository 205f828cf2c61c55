"""Benchmark: retro-hunt of one new indicator over 20M stored events (goal: under 2 s).

Writes seeded synthetic telemetry (file events with hashes drawn from a long-tailed pool of
binaries, network/DNS/HTTP/TLS events with addresses, names and URLs from long-tailed pools)
spread over 30 days, through `ParquetTelemetryStore.append` in appends of 100k rows (each durable),
compacts every day, then times `hunt` for one indicator of each type over the 30-day look-back.
Baseline in the same run: DuckDB running the same filter over the same Parquet files.
The temporary data directory is removed at the end unless --keep is given.

    python benchmarks/retrohunt.py [--rows 20000000] [--append-rows 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from common import git_revision, machine, timings

from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType
from iocd.matching.columns import EVENT_SCHEMA
from iocd.store.telemetry import ParquetTelemetryStore
from iocd.store.telemetry_hunt import ip_bytes

DAYS = 30
END = datetime(2030, 3, 1, tzinfo=UTC)
BINARIES, SIGNERS, ADDRESSES, SITES, URLS, DEVICES = (
    300_000,
    3_000,
    500_000,
    40_000,
    400_000,
    20_000,
)
KINDS = np.array(["process", "file", "image_load", "network", "dns", "http", "tls"])
KIND_SHARE = [0.25, 0.12, 0.08, 0.25, 0.15, 0.08, 0.07]
NEEDLE = 4_321
"""Pool rank of the values hunted for: seen, but rarely (a real IOC on a handful of devices)."""


class Pools:
    """Value pools drawn once; events pick from them with a long-tailed (Zipf) rank."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.sha256 = _fixed(rng, BINARIES, 32)
        self.sha1 = _fixed(rng, BINARIES, 20)
        self.md5 = _fixed(rng, BINARIES, 16)
        self.thumbprint = _fixed(rng, SIGNERS, 20)
        self.file_name = pa.array([f"tool{i}.exe" for i in range(BINARIES)])
        self.file_path = pa.array(
            [rf"C:\Program Files\Vendor{i % 997}\tool{i}.exe" for i in range(BINARIES)]
        )
        v4 = rng.integers(0x0B000000, 0xDF000000, ADDRESSES, dtype=np.uint64)
        self.ip_text = [str(ipaddress.IPv4Address(int(a))) for a in v4]
        self.remote_ip = pa.array(
            [ip_bytes(ipaddress.IPv4Address(int(a))) for a in v4], pa.binary(16)
        )
        self.host = pa.array([f"h{i % 7}.site{i // 7}.example.net" for i in range(SITES * 7)])
        self.url = pa.array(
            [
                f"https://site{i % SITES}.example.net/p{i % 13}/item{i}.php?id={i % 97}"
                for i in range(URLS)
            ]
        )
        self.devices = pa.array([f"dev-{i:05d}" for i in range(DEVICES)])

    def rank(self, size: int, count: int) -> pa.Array:
        return pa.array((self.rng.zipf(1.25, count) - 1) % size)


def _fixed(rng: np.random.Generator, count: int, width: int) -> pa.Array:
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), count, [None, pa.py_buffer(rng.bytes(count * width))]
    )


def _where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), values, pa.nulls(len(values), values.type))


def make_batch(pools: Pools, start_us: int, end_us: int, count: int) -> pa.Table:
    rng = pools.rng
    kind = rng.choice(len(KINDS), count, p=KIND_SHARE)
    is_file = kind <= 2
    binary = pools.rank(BINARIES, count)
    device = pa.array(rng.integers(0, DEVICES, count))
    host = pools.rank(SITES * 7, count)
    columns = {
        "time": pa.array(
            np.sort(rng.integers(start_us, end_us, count)), pa.timestamp("us", tz="UTC")
        ),
        "kind": pa.array(KINDS[kind]),
        "device_id": pools.devices.take(device),
        "device_name": pools.devices.take(device),
        "sha256": _where(is_file, pools.sha256.take(binary)),
        "sha1": _where(is_file, pools.sha1.take(binary)),
        "md5": _where(is_file, pools.md5.take(binary)),
        "signer_thumbprint": _where(
            is_file & (rng.random(count) < 0.7),
            pools.thumbprint.take(pc.bit_wise_and(binary, 2047)),
        ),
        "signature_valid": _where(is_file, pa.array(rng.random(count) < 0.7)),
        "signer_trusted": _where(is_file, pa.array(rng.random(count) < 0.6)),
        "file_name": _where(is_file, pools.file_name.take(binary)),
        "file_path": _where(is_file, pools.file_path.take(binary)),
        "remote_ip": _where(
            ~is_file & (kind != 4), pools.remote_ip.take(pools.rank(ADDRESSES, count))
        ),
        "remote_port": _where(~is_file, pa.array(np.where(kind == 5, 80, 443).astype(np.int32))),
        "domain": _where((kind == 4) | (kind == 5), pools.host.take(host)),
        "url": _where(kind == 5, pools.url.take(pools.rank(URLS, count))),
        "sni": _where(kind == 6, pools.host.take(host)),
        "source": pa.array(np.full(count, "sysmon")),
        "device_group": pa.array(np.full(count, "Workstations")),
    }
    return pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)


def fill(store: ParquetTelemetryStore, rows: int, append_rows: int) -> tuple[Pools, float, float]:
    pools = Pools(np.random.default_rng(20300301))
    first_us = int((END - timedelta(days=DAYS)).timestamp() * 1_000_000)
    span = DAYS * 86_400_000_000
    appends = -(-rows // append_rows)
    start = time.perf_counter()
    for i in range(appends):
        count = min(append_rows, rows - i * append_rows)
        lo, hi = first_us + span * i // appends, first_us + span * (i + 1) // appends
        store.append(make_batch(pools, lo, hi, count))
    ingest = time.perf_counter() - start
    start = time.perf_counter()
    for day in range(DAYS):
        store.compact((END - timedelta(days=DAYS - day)).date())
    return pools, ingest, time.perf_counter() - start


def cases(pools: Pools) -> list[tuple[str, ListedIndicator, str, list[object]]]:
    """(label, indicator, DuckDB filter, its parameters) per indicator type."""
    sha256 = pools.sha256[NEEDLE].as_py()
    ip = pools.ip_text[NEEDLE]
    block = ipaddress.ip_network(f"{pools.ip_text[NEEDLE + 1]}/24", strict=False)
    domain = f"site{NEEDLE}.example.net"
    url = f"https://site{NEEDLE % SITES}.example.net/p{NEEDLE % 13}/"

    def listed(kind: IndicatorType, value: str) -> ListedIndicator:
        return ListedIndicator(1, kind, value, Action.BLOCK)

    return [
        ("FileSha256", listed(IndicatorType.FILE_SHA256, sha256.hex()), "sha256 = ?", [sha256]),
        (
            "IpAddress",
            listed(IndicatorType.IP_ADDRESS, ip),
            "remote_ip = ?",
            [ip_bytes(ipaddress.ip_address(ip))],
        ),
        (
            "IpAddress CIDR /24",
            listed(IndicatorType.IP_ADDRESS, str(block)),
            "remote_ip BETWEEN ? AND ?",
            [ip_bytes(block[0]), ip_bytes(block[-1])],
        ),
        (
            "DomainName (+subdomains)",
            listed(IndicatorType.DOMAIN_NAME, domain),
            "(domain = ? OR ends_with(domain, ?) OR sni = ? OR ends_with(sni, ?))",
            [domain, "." + domain, domain, "." + domain],
        ),
        ("Url (prefix)", listed(IndicatorType.URL, url), "starts_with(url, ?)", [url]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--append-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    data_dir = Path(tempfile.mkdtemp(prefix="iocd-retrohunt-"))
    try:
        store = ParquetTelemetryStore(data_dir / "telemetry")
        pools, ingest, compaction = fill(store, args.rows, args.append_rows)
        stats = store.stats()
        print(
            f"stored {stats.rows:,} events over {stats.days} days in {stats.files} files, "
            f"{stats.bytes / 2**20:,.0f} MiB; ingest {ingest:.1f} s "
            f"({stats.rows / ingest:,.0f} events/s, {stats.segments} durable appends), "
            f"compaction {compaction:.1f} s"
        )
        since = END - timedelta(days=DAYS)
        files = str(data_dir / "telemetry" / "day=*" / "*.parquet")
        database = duckdb.connect()
        print(f"hunt over the {DAYS}-day look-back, median of {args.repeat} (warm page cache):")
        print(f"{'indicator':<26}{'rows':>8}{'iocd':>12}{'DuckDB':>12}{'ratio':>8}  goal < 2 s")
        worst = 0.0
        for label, indicator, where, params in cases(pools):
            found = sum(len(b) for b in store.hunt([indicator], since))
            ours = statistics.median(timings(_hunt(store, indicator, since), args.repeat))
            sql = f"SELECT * FROM read_parquet('{files}') WHERE time >= ? AND {where}"
            query_params = [since, *params]
            baseline_rows = database.sql(sql, params=query_params).to_arrow_table().num_rows
            baseline = statistics.median(
                timings(
                    lambda q=sql, p=query_params: database.sql(q, params=p).to_arrow_table(),
                    args.repeat,
                )
            )
            worst = max(worst, ours)
            check = "" if baseline_rows == found else f" (DuckDB found {baseline_rows})"
            print(
                f"{label:<26}{found:>8,}{ours * 1000:>10.0f}ms{baseline * 1000:>10.0f}ms"
                f"{ours / baseline:>8.2f}  {'ok' if ours < 2 else 'MISSED'}{check}"
            )
        print(f"slowest hunt {worst:.2f} s; goal under 2 s: {'met' if worst < 2 else 'missed'}")
    finally:
        if args.keep:
            print(f"data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


def _hunt(
    store: ParquetTelemetryStore, indicator: ListedIndicator, since: datetime
) -> Callable[[], int]:
    return lambda: sum(len(batch) for batch in store.hunt([indicator], since))


if __name__ == "__main__":
    main()
