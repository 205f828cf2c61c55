"""Benchmark: an agent's first policy load at 1,000,000 indicators (issue 6, "Agent memory with a
1,000,000-indicator policy: under 150 MB; initial snapshot download and load under 5 s").

Imports N indicators into a fresh SQLite store (as policy_snapshot.py does; `--data-dir` reuses
a store made before), times the server's detection-index build at start (IndexKeeper: columnar
read of `Store.policy_rows` and the columnar index build), serves the API from a live server and
enrols one device; then, in a fresh child process (what an agent pays, nothing imported before):
downloads the snapshot over HTTP with the agent's client (the server's cache warmed by one
request before, whose time is printed too), verifies its digest and compiles the
index batch by batch (`Policy.from_snapshot_bytes`), with that process's peak RSS, and its
resident memory once the policy is loaded and the agent has given freed memory back
(`iocd.agent.memory`): VmRSS, of which RssAnon is the agent's own (private) memory and RssFile
the pages of the shared libraries (mostly Arrow's, shared with every process using them).

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
from policy_snapshot import ADMIN, open_store, serve

from iocd.agent.client import AgentClient
from iocd.api.app import create_app
from iocd.domain.accounts import GroupRules
from iocd.domain.agents import DeviceReport

AGENT = textwrap.dedent(
    """
    import sys, time
    start = time.perf_counter()
    from iocd.agent.client import AgentClient
    from iocd.agent.memory import release_memory, resident_memory, use_system_allocator
    from iocd.agent.policy import Policy
    use_system_allocator()  # as the agent does at start (iocd.agent.runner.Agent)
    imported = time.perf_counter()
    base = resident_memory()
    with AgentClient(sys.argv[1], sys.argv[2], timeout=120) as client:
        reply = client.snapshot()
    fetched = time.perf_counter()
    policy = Policy.from_snapshot_bytes(reply.data, reply.sequence, reply.digest)
    done = time.perf_counter()
    size = len(reply.data) / 2**20
    del reply
    release_memory()  # as the agent does after each load (iocd.agent.sync)
    after = resident_memory()  # VmHWM: this process's peak (ru_maxrss would count the parent)
    print(
        imported - start, fetched - imported, done - fetched, base["VmRSS"], base["RssAnon"],
        base["RssFile"], after["VmHWM"], after["VmRSS"], after["RssAnon"], after["RssFile"],
        len(policy), size,
    )
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
        settings, instance = open_store(args.data_dir or work / "data", args.rows, work)
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
        figures = map(float, done.stdout.split())
        imports, fetch, load, rss0, anon0, file0, peak, rss, anon, file, count, size = figures
        print(
            f"agent (fresh process): imports {imports:.2f} s (then {rss0:.0f} MB RSS: "
            f"{anon0:.0f} MB private, {file0:.0f} MB of shared library pages); "
            f"download {size:.1f} MB in {fetch:.2f} s (cached on the server); "
            f"verify digest + compile index {load:.2f} s; {int(count):,} indicators"
        )
        print(
            f"  download and load {fetch + load:.2f} s (goal < 5 s); "
            f"peak RSS {peak:.0f} MB (VmHWM, during the load)"
        )
        print(
            f"  steady state with the policy loaded (after the agent's release calls): "
            f"RSS {rss:.0f} MB = {anon:.0f} MB private (RssAnon) + {file:.0f} MB shared "
            f"library pages (RssFile) (goal < 150 MB)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
