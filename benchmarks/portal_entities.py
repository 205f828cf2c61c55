"""Benchmark: entity pages and the alerts queue of the portal, rendered by the real server.

Fills a fresh SQLite data directory with N indicators (the real import path), M stored events
(ParquetTelemetryStore appends of 100k rows over the last 30 days, then compaction, with the
synthetic long-tailed telemetry of benchmarks/retrohunt.py) and A alerts raised through
AlertService.raise_alerts; marks the telemetry as scanned (as a server that has caught up),
starts `iocd serve`, signs in, and times GET of: a file page (a rarely seen and the most seen
file), a domain page, the alerts queue (default order, and by severity) and an alert page.
Median of R requests each over loopback (after two warm-ups) vs the goal of 150 ms.
Baseline in the same run: GET /health (the fixed cost of a request).

    python benchmarks/portal_entities.py [--indicators 1000000] [--events 1000000]
                                         [--alerts 10000] [--repeat 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
from api_load import free_port
from common import csv_rows, git_revision, machine, timings
from retrohunt import NEEDLE, SITES, Pools, make_batch

from iocd.codecs.csv import read_csv
from iocd.codecs.rows import as_parsed_rows
from iocd.compose import build
from iocd.config import Settings
from iocd.domain.alerts import Detection
from iocd.domain.decision import Candidate, Decision, Enforcement, ListedIndicator, MatchKind
from iocd.domain.principal import Principal, Role
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.types import Action, IndicatorType
from iocd.services.detection import CURSOR_KEY, HUNTED_KEY
from iocd.services.imports import import_rows
from iocd.store.telemetry import ParquetTelemetryStore

ADMIN = Principal("bench", Role.GLOBAL_ADMINISTRATOR, "Cli")
PASSWORD = "bench password 1234"  # noqa: S105 (a throwaway user of a temporary store)
GOAL_MS = 150.0
DAYS = 30


def fill_indicators(settings: Settings, rows: int) -> float:
    instance = build(settings)
    path = settings.data_dir / "fill.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.writelines(csv_rows(rows))
    start = time.perf_counter()
    with path.open("rb") as stream:
        import_rows(instance.indicators, as_parsed_rows(read_csv(stream)), ADMIN, chunk_size=5000)
    path.unlink()
    return time.perf_counter() - start


def fill_telemetry(settings: Settings, rows: int, end: datetime) -> tuple[Pools, float]:
    store = ParquetTelemetryStore(settings.data_dir / "telemetry")
    pools = Pools(np.random.default_rng(20300301))
    first_us = int((end - timedelta(days=DAYS)).timestamp() * 1_000_000)
    span = DAYS * 86_400_000_000
    append_rows = 100_000
    appends = -(-rows // append_rows)
    start = time.perf_counter()
    for i in range(appends):
        count = min(append_rows, rows - i * append_rows)
        lo, hi = first_us + span * i // appends, first_us + span * (i + 1) // appends
        store.append(make_batch(pools, lo, hi, count))
    for day in range(DAYS + 1):
        store.compact((end - timedelta(days=DAYS - day)).date())
    return pools, time.perf_counter() - start


def raise_alerts(settings: Settings, count: int, end: datetime) -> float:
    instance = build(settings)
    detections = []
    for n in range(count):
        indicator_id = n + 1
        sha = f"{n:064x}"
        listed = ListedIndicator(indicator_id, IndicatorType.FILE_SHA256, sha, Action.AUDIT)
        winner = Candidate(listed, MatchKind.SHA256)
        event = TelemetryEvent(
            time=end - timedelta(minutes=n),
            kind=EventKind.PROCESS,
            device_id=f"dev-{n % 2000:05d}",
            device_name=f"dev-{n % 2000:05d}",
            sha256=sha,
            file_name=f"tool{n}.exe",
        )
        decision = Decision(Enforcement.NONE, True, winner, "audit only", alerts=(winner,))
        detections.append(Detection(indicator_id, event, "File", sha, decision))
    start = time.perf_counter()
    for chunk in range(0, count, 1000):
        instance.alerts.raise_alerts(detections[chunk : chunk + 1000])
    return time.perf_counter() - start


def caught_up(settings: Settings) -> None:
    """Mark every stored segment as scanned and every indicator as hunted."""
    instance = build(settings)
    store = ParquetTelemetryStore(settings.data_dir / "telemetry")
    last, cursor = None, None
    while segments := store.segments_after(cursor, 4096):
        last = cursor = segments[-1].cursor
    with instance.store.accounts() as tx:
        if last is not None:
            tx.put_setting(CURSOR_KEY, last)
        tx.put_setting(HUNTED_KEY, str(instance.indicators.last_sequence()))
    instance.accounts.create_user("bench", Role.GLOBAL_ADMINISTRATOR, ADMIN, password=PASSWORD)


def serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "IOCD_DATA_DIR": str(data_dir), "IOCD_PORT": str(port)}
    iocd = str(Path(sys.executable).with_name("iocd"))
    server = subprocess.Popen(
        [iocd, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def signed_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/signin").text)
    assert token is not None
    answer = client.post(
        "/signin", data={"name": "bench", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code in (200, 303), answer.text[:300]
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", type=Path, default=None, help="keep the data directory here")
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="iocd-portal-"))
    settings = Settings(data_dir=data_dir)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    server = None
    try:
        took = fill_indicators(settings, args.indicators)
        print(f"indicators: {args.indicators:,} imported in {took:.0f} s (SQLite)")
        pools, took = fill_telemetry(settings, args.events, end)
        print(
            f"telemetry: {args.events:,} events over {DAYS} days, appended and compacted in "
            f"{took:.0f} s"
        )
        took = raise_alerts(settings, args.alerts, end)
        print(f"alerts: {args.alerts:,} raised through AlertService.raise_alerts in {took:.1f} s")
        caught_up(settings)
        server, url = serve(data_dir)
        client = signed_in(url)
        popular = pools.sha256[0].as_py().hex()
        rare = pools.sha256[NEEDLE].as_py().hex()
        pages = [
            ("GET /health (baseline)", "/health"),
            ("file page, rarely seen file", f"/files/{rare}"),
            ("file page, most seen file", f"/files/{popular}"),
            ("domain page (+ subdomains)", f"/domains/site{NEEDLE % SITES}.example.net"),
            ("alerts queue, newest first", "/alerts?status=any"),
            ("alerts queue, by severity", "/alerts?status=any&sort=severity&dir=desc"),
            ("alerts queue, page 100", "/alerts?status=any&sort=time&dir=desc&offset=4950"),
            ("alert page", f"/alerts/{args.alerts // 2}"),
        ]
        print(
            f"median of {args.repeat} GETs over loopback, after 2 warm-ups; goal < {GOAL_MS:.0f} ms"
        )
        worst = 0.0
        for label, path in pages:
            for _ in range(2):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
            samples = timings(lambda p=path: client.get(p), args.repeat)
            median = statistics.median(samples) * 1000
            if not label.startswith("GET /health"):
                worst = max(worst, median)
            size = len(client.get(path).content)
            print(
                f"  {label:<30}{median:>9.1f} ms   max {max(samples) * 1000:>7.1f} ms   "
                f"{size / 1024:>6.0f} KiB"
            )
        print(f"slowest page median {worst:.1f} ms: goal {'met' if worst < GOAL_MS else 'MISSED'}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if args.keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
