"""Benchmark: an agent's first policy load at 1,000,000 indicators (issue 6, "Agent memory with a
1,000,000-indicator policy: under 150 MB; initial snapshot download and load under 5 s").

Imports N indicators into a fresh SQLite store (as policy_snapshot.py does; `--data-dir` reuses
a store made before), times the server's detection-index build at start (IndexKeeper: columnar
read of `Store.policy_rows` and the columnar index build), serves the API from a live server and
enrols one device; then, in a fresh child process (what an agent pays, nothing imported before):
downloads the snapshot over HTTP with the agent's client (the server's cache warmed by one
request before, whose time is printed too), verifies its digest and compiles the
index batch by batch (`Policy.from_snapshot_bytes`), with that process's peak RSS.

    python benchmarks/agent_policy_load.py [--rows 1000000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from common import git_revision, machine
from import_csv import run_import, write_file
from policy_snapshot import ADMIN, serve

from iocd.agent.client import AgentClient
from iocd.api.app import create_app
from iocd.compose import build
from iocd.config import Settings
from iocd.domain.accounts import GroupRules
from iocd.domain.agents import DeviceReport

AGENT = textwrap.dedent(
    """
    import sys, time
    def hwm():  # this process's peak RSS (ru_maxrss would count the parent's, from the fork)
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    start = time.perf_counter()
    from iocd.agent.client import AgentClient
    from iocd.agent.policy import Policy
    imported = time.perf_counter()
    base = hwm()
    with AgentClient(sys.argv[1], sys.argv[2], timeout=120) as client:
        reply = client.snapshot()
    fetched = time.perf_counter()
    policy = Policy.from_snapshot_bytes(reply.data, reply.sequence, reply.digest)
    done = time.perf_counter()
    peak = hwm()
    size = len(reply.data) / 2**20
    print(imported - start, fetched - imported, done - fetched, base, peak, len(policy), size)
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse (or keep) this store")
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    work = Path(tempfile.mkdtemp(prefix="iocd-bench-"))
    try:
        data_dir = args.data_dir or work / "data"
        if not (data_dir / "iocd.sqlite3").exists():
            csv_path = work / "indicators.csv"
            write_file(csv_path, args.rows)
            elapsed, _, summary = run_import(csv_path, data_dir, None)
            print(f"import: {summary} in {elapsed:.0f} s")
        settings = Settings(data_dir=data_dir)
        instance = build(settings)
        print(f"store: {instance.describe_store()}, {instance.indicators.active_count():,} active")
        start = time.perf_counter()
        index = instance.detection.keeper.current
        print(
            f"server: detection index built at start in {time.perf_counter() - start:.2f} s "
            f"({len(index):,} indicators, {index.nbytes() / 2**20:.0f} MB of arrays)"
        )
        if instance.accounts.list_groups(ADMIN) == []:
            instance.accounts.create_group("Servers", None, GroupRules(tags=("servers",)), ADMIN)
        _, token = instance.agents.create_enrollment_token(ADMIN, group="Servers")
        _, credential = instance.agents.enroll(token, DeviceReport("bench-host"))
        server, base = serve(create_app(settings, instance))
        try:
            start = time.perf_counter()
            with AgentClient(base, credential, timeout=600) as client:
                client.snapshot()
            print(f"server: first snapshot request (builds it) {time.perf_counter() - start:.2f} s")
            done = subprocess.run(
                [sys.executable, "-c", AGENT, base, credential],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            server.should_exit = True
        imports, fetch, load, before, peak, count, size = map(float, done.stdout.split())
        print(
            f"agent (fresh process): imports {imports:.2f} s ({before:.0f} MB RSS after them); "
            f"download {size:.1f} MB in {fetch:.2f} s (cached on the server); "
            f"verify digest + compile index {load:.2f} s; {int(count):,} indicators"
        )
        print(
            f"  download and load {fetch + load:.2f} s (goal < 5 s); "
            f"peak RSS {peak:.0f} MB (goal < 150 MB)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
