"""Benchmark: the agent policy snapshot of 1,000,000 indicators (issue 6, "snapshot download and
load").

Imports N indicators into a fresh SQLite store with the real `iocd indicators import` (as
import_csv.py does; `--data-dir` reuses a store made before), enrols one device in the group
"Servers" (10% of the rows are scoped to Servers and Laptops, the rest to all devices), then:
- server: builds the snapshot (columnar read from SQLite, view filter, digest, Arrow IPC with
  zstd) 5 times, median; and fetches it over HTTP from a live server 5 times (the first builds
  it, the rest hit the per-(group, sequence) cache), median;
- client: in a fresh process (what an agent pays), decodes the snapshot, checks its digest and
  compiles the matching index (iocd.matching.index.build), with that process's peak memory.

    python benchmarks/policy_snapshot.py [--rows 1000000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from common import git_revision, machine
from import_csv import run_import, write_file

from iocd.api.app import create_app
from iocd.compose import Instance, build
from iocd.config import Settings
from iocd.domain.accounts import GroupRules
from iocd.domain.agents import DeviceReport
from iocd.domain.principal import Principal, Role

ADMIN = Principal("bench", Role.GLOBAL_ADMINISTRATOR, "Cli")
CLIENT = textwrap.dedent(
    """
    import resource, sys, time
    from iocd.matching.index import build
    from iocd.matching.snapshot import snapshot_digest, snapshot_listed
    data = open(sys.argv[1], "rb").read()
    start = time.perf_counter()
    digest = snapshot_digest(data)
    checked = time.perf_counter()
    index = build(snapshot_listed(data), 0)
    done = time.perf_counter()
    assert digest == sys.argv[2], "digest mismatch"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{checked - start:.2f} {done - checked:.2f} {peak:.0f} {index.nbytes() / 2**20:.0f}")
    """
)


def serve(app: object) -> tuple[uvicorn.Server, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return server, base


def open_store(data_dir: Path, rows: int, work: Path) -> tuple[Settings, Instance]:
    """The SQLite store in `data_dir`, first filled with `rows` indicators through the real
    import command if it holds none (a store made before is reused as it is)."""
    if not (data_dir / "iocd.sqlite3").exists():
        csv_path = work / "indicators.csv"
        write_file(csv_path, rows)
        elapsed, _, summary = run_import(csv_path, data_dir, None)
        print(f"import: {summary} in {elapsed:.0f} s")
    settings = Settings(data_dir=data_dir)
    instance = build(settings)
    print(f"store: {instance.describe_store()}, {instance.indicators.active_count():,} active")
    return settings, instance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse (or keep) this store")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    work = Path(tempfile.mkdtemp(prefix="iocd-bench-"))
    try:
        settings, instance = open_store(args.data_dir or work / "data", args.rows, work)
        if instance.accounts.list_groups(ADMIN) == []:
            instance.accounts.create_group("Servers", None, GroupRules(tags=("servers",)), ADMIN)
        _, token = instance.agents.create_enrollment_token(ADMIN, group="Servers")
        device, credential = instance.agents.enroll(token, DeviceReport("bench-host"))
        gateway = instance.agent_policy

        builds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            built = gateway._build_snapshot(device.group)  # the uncached build
            builds.append(time.perf_counter() - start)
        size_mb = len(built.payload) / 2**20
        print(
            f"snapshot of group {device.group}: {built.rows:,} entries, {size_mb:.1f} MB "
            f"({len(built.payload) / max(built.rows, 1):.1f} bytes an entry)"
        )
        print(
            f"server build (columnar read, view, digest, Arrow+zstd): median "
            f"{statistics.median(builds):.2f} s of {args.repeat} "
            f"(min {min(builds):.2f}, max {max(builds):.2f})"
        )

        server, base = serve(create_app(settings, instance))
        try:
            fetches = []
            headers = {"Authorization": f"Bearer {credential}"}
            for _ in range(args.repeat):
                start = time.perf_counter()
                response = httpx.get(
                    f"{base}/api/agents/policy/snapshot", headers=headers, timeout=600
                )
                fetches.append(time.perf_counter() - start)
                response.raise_for_status()
            print(
                f"HTTP GET /api/agents/policy/snapshot: first {fetches[0]:.2f} s (builds), "
                f"median {statistics.median(fetches):.2f} s, cached median "
                f"{statistics.median(fetches[1:] or fetches):.2f} s"
            )
        finally:
            server.should_exit = True
        path = work / "snapshot.arrow"
        path.write_bytes(response.content)
        digest = response.headers["x-iocd-digest"]
        done = subprocess.run(
            [sys.executable, "-c", CLIENT, str(path), digest],
            capture_output=True,
            text=True,
            check=True,
        )
        check, compile_s, peak, index_mb = done.stdout.split()
        print(
            f"client (fresh process): digest check {check} s, decode + compile index "
            f"{compile_s} s, total {float(check) + float(compile_s):.2f} s (goal < 5 s with "
            f"download); peak memory {peak} MB (goal < 150 MB); index {index_mb} MB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
