"""Benchmark: the Indicators API over HTTP on loopback, one `iocd serve` process, N indicators.

1. `GET /api/indicators?$filter=indicatorValue eq '...'` at a fixed rate (default 200 requests/s for
   30 s) from a load generator in a second process: median and p99 latency, errors.
2. `POST /api/indicators/import` with 10,000 indicators: seconds.
3. Paging through every indicator with `$top=10000` and `@odata.nextLink`: seconds, and the server's
   resident memory before and after (flat means it streams pages, not the list).
Baseline in the same run: `GET /health` at the same rate (the fixed cost of a request).

    python benchmarks/api_load.py --data-dir DIR   (a data directory holding the indicators,
                                                    e.g. one filled by benchmarks/lookup.py)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from common import TYPES, git_revision, machine, value_of

from iocd.compose import build
from iocd.config import Settings
from iocd.domain.accounts import AppRole
from iocd.domain.principal import Principal, Role


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def paced_load(
    url: str, headers: dict[str, str], paths: list[str], rate: float, seconds: float, out: Any
) -> None:
    """Runs in a second process: send requests at `rate` per second; report latencies."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    interval = 1.0 / rate
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)
    counter = iter(range(total))

    def worker() -> None:
        nonlocal errors
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            for n in counter:
                due = start + n * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent = time.perf_counter()
                response = client.get(paths[n % len(paths)])
                took = time.perf_counter() - sent
                with lock:
                    latencies.append(took)
                    if response.status_code != 200:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    out.send({"latencies": latencies, "errors": errors, "elapsed": elapsed})


def run_load(
    url: str, headers: dict[str, str], paths: list[str], rate: float, seconds: float
) -> str:
    receiver, sender = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(
        target=paced_load, args=(url, headers, paths, rate, seconds, sender)
    )
    process.start()
    result = receiver.recv()
    process.join()
    ordered = sorted(result["latencies"])
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    achieved = len(ordered) / result["elapsed"]
    return (
        f"median {statistics.median(ordered) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
        f"{achieved:.0f} requests/s achieved, {result['errors']} errors (n={len(ordered)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows the store was filled with"
    )
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    settings = Settings(data_dir=args.data_dir)
    instance = build(settings)
    admin = Principal("bench", Role.GLOBAL_ADMINISTRATOR, "Cli")
    app, secret = instance.accounts.register_application("bench", AppRole.READ_WRITE_ALL, admin)
    tenant = instance.accounts.tenant_id()
    active = instance.indicators.active_count()
    port = free_port()
    env = {**os.environ, "IOCD_DATA_DIR": str(args.data_dir), "IOCD_PORT": str(port)}
    iocd = str(Path(sys.executable).with_name("iocd"))
    server = subprocess.Popen(
        [iocd, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        token = httpx.post(
            f"{url}/{tenant}/oauth2/v2.0/token",
            data={
                "client_id": app.client_id,
                "client_secret": secret,
                "grant_type": "client_credentials",
                "scope": f"{url}/.default",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        print(f"store: SQLite; {active:,} active indicators; server pid {server.pid}")

        rng = random.Random(11)
        values = [value_of(TYPES[n % len(TYPES)], n) for n in rng.sample(range(args.rows), 2000)]
        paths = [f"/api/indicators?$filter=indicatorValue eq '{v}'" for v in values]
        print(
            f"baseline GET /health at {args.rate:.0f}/s for {args.seconds:.0f} s: "
            f"{run_load(url, {}, ['/health'], args.rate, args.seconds)}"
        )
        print(
            f"GET $filter=indicatorValue eq at {args.rate:.0f}/s for {args.seconds:.0f} s: "
            f"{run_load(url, headers, paths, args.rate, args.seconds)} "
            "(goal: median < 5 ms, p99 < 20 ms)"
        )

        batch = [
            {
                "indicatorValue": value_of("DomainName", 50_000_000 + n),
                "indicatorType": "DomainName",
                "action": "Block",
                "title": "bench import",
                "description": "api import benchmark",
                "severity": "High",
                "expirationTime": "2031-01-01T00:00:00Z",
            }
            for n in range(10_000)
        ]
        body = json.dumps({"Indicators": batch})
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            start = time.perf_counter()
            response = client.post(
                "/api/indicators/import", content=body, headers={"Content-Type": "application/json"}
            )
            took = time.perf_counter() - start
            failed = sum(1 for item in response.json()["value"] if item["isFailed"])
            print(
                f"POST /api/indicators/import, 10,000 indicators: {took:.2f} s, {failed} failed "
                "(goal < 1.5 s)"
            )

            before = rss_mb(server.pid)
            samples: list[float] = []
            start = time.perf_counter()
            link: str | None = "/api/indicators?$top=10000"
            seen = 0
            while link:
                page = client.get(link).json()
                seen += len(page["value"])
                link = page.get("@odata.nextLink")
                samples.append(rss_mb(server.pid))
            took = time.perf_counter() - start
            tenths = [samples[len(samples) * k // 10 - 1] for k in range(1, 11)]
            print(f"paging all {seen:,} with $top=10000 and nextLink: {took:.1f} s (goal < 60 s)")
            print(
                f"server RSS before paging {before:.0f} MB; after each tenth of the pages: "
                + ", ".join(f"{m:.0f}" for m in tenths)
                + " MB"
            )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
