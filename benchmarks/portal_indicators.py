"""Benchmark: the portal's Indicators page (`GET /indicators`) over HTTP, with N indicators.

Fills a SQLite data directory (benchmarks/lookup.py's `fill`: the service's chunked import of
generated rows of every type; reused when it holds enough already), starts `iocd serve` on it,
signs in through the sign-in form like a browser, then times whole requests (server render +
loopback) for: the first page, a filtered page (tab + action + severity), a sorted page (value,
descending), a deep keyset page (after the 900,000th id), a search by exact value, and the
dashboard's "expiring in 7 days" link, and the worst case: a text search (contains on value and
title) that matches nothing, which reads every row. Median and p99 of --repeat requests each;
goal: median under 150 ms. Baseline in the same run: GET /health.

    python benchmarks/portal_indicators.py [--rows 1000000] [--data-dir DIR] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import git_revision, machine, summary_ms, timings, value_of
from lookup import fill

from iocd.compose import build
from iocd.config import Settings
from iocd.domain.principal import Principal, Role

ADMIN = Principal("bench", Role.GLOBAL_ADMINISTRATOR, "Cli")
GOAL_MS = 150.0
PASSWORD = "bench password long enough"  # noqa: S105 - a throwaway benchmark user


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sign_in(client: httpx.Client, name: str) -> None:
    page = client.get("/signin")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token, page.text[:300]
    answer = client.post(
        "/signin", data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text[:300]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="iocd-portal-"))
    settings = Settings(data_dir=data_dir)
    fill(settings, args.rows)
    instance = build(settings)
    name = "portal-bench"
    if instance.accounts.verify_password(name, PASSWORD) is None:
        instance.accounts.create_user(
            name, Role.SECURITY_ADMINISTRATOR, ADMIN, password=PASSWORD, display_name="Bench"
        )
    active = instance.indicators.active_count()
    port = free_port()
    env = {**os.environ, "IOCD_DATA_DIR": str(data_dir), "IOCD_PORT": str(port)}
    iocd = str(Path(sys.executable).with_name("iocd"))
    server = subprocess.Popen(
        [iocd, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        print(f"store: SQLite at {data_dir}; {active:,} active indicators; server pid {server.pid}")
        with httpx.Client(base_url=url, timeout=60) as client:
            sign_in(client, name)
            deep_after = int(active * 0.9)
            cases = [
                ("baseline GET /health", "/health"),
                ("first page", "/indicators"),
                (
                    "filtered page (tab, action, severity)",
                    "/indicators?tab=ips&action=Block&severity=High",
                ),
                ("sorted page (value, descending)", "/indicators?sort=indicatorValue&dir=desc"),
                (f"deep keyset page (after id {deep_after:,})", f"/indicators?after={deep_after}"),
                ("search by exact value", f"/indicators?q={value_of('DomainName', 123_454)}"),
                ("expiring in 7 days (dashboard link)", "/indicators?expires=7d"),
                ("text search matching nothing (contains: a full scan)", "/indicators?q=zzqzz"),
                ("filtered by device group", "/indicators?group=Servers"),
            ]
            for label, path in cases:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                rows = response.text.count('name="ids"')
                samples = timings(lambda p=path: client.get(p), args.repeat)
                median = statistics.median(samples) * 1000
                verdict = (
                    ""
                    if label.startswith("baseline")
                    else (f"  [{'ok' if median < GOAL_MS else 'OVER'} vs goal {GOAL_MS:.0f} ms]")
                )
                shown = "" if label.startswith("baseline") else f", {rows} rows"
                print(f"GET {path}{shown}: {summary_ms(samples)}{verdict}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
