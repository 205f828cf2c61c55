"""Benchmark: propagation of a new indicator to every connected agent (issue 6, "Propagation").

Starts the real server (`iocd serve`, SQLite, its own process), enrols N agents (default 50) and
runs their real policy sync loops (iocd.agent.sync.PolicySync with long-poll, each with its own
client and policy cache) as threads in a few child processes; then submits C indicator changes
(default 100) through `POST /api/indicators`, one after another, `--gap` seconds apart. Each
change is one change-sequence value; every agent prints the time it applied each sequence. For
each change: the time from the POST until every agent has applied a sequence >= its own.

    python benchmarks/propagation.py [--agents 50] [--changes 100] [--procs 5] [--gap 0.15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import httpx
from api_load import free_port
from common import git_revision, machine

from iocd.agent.client import AgentClient
from iocd.agent.runner import host_facts
from iocd.compose import build
from iocd.config import Settings
from iocd.domain.accounts import AppRole
from iocd.domain.principal import Principal, Role

ADMIN = Principal("bench", Role.GLOBAL_ADMINISTRATOR, "Cli")
AGENTS = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from iocd.agent.client import AgentClient
    from iocd.agent.policy_cache import PolicyCache
    from iocd.agent.sync import PolicySync
    url, first, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    credentials = sys.stdin.read().split()
    out = threading.Lock()
    def say(text):
        with out:
            print(text, flush=True)
    def run(n, credential):
        client = AgentClient(url, credential, timeout=30)
        place = folder / f"agent-{n}"  # inside the run's folder: removed with it
        place.mkdir(parents=True, exist_ok=True)
        cache = PolicyCache(place)
        sync = PolicySync(client, cache, lambda p: say(f"applied {n} {p.sequence} {time.time()}"))
        while True:
            try:
                sync.step(25.0)
            except Exception as error:
                say(f"error {n} {error!r}")
                time.sleep(0.5)
    for n, credential in enumerate(credentials, first):
        threading.Thread(target=run, args=(n, credential), daemon=True).start()
    threading.Event().wait()
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--procs", type=int, default=5, help="child processes running agents")
    parser.add_argument("--gap", type=float, default=0.15, help="seconds between submissions")
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    work = Path(tempfile.mkdtemp(prefix="iocd-bench-"))
    children: list[subprocess.Popen[str]] = []
    try:
        settings = Settings(data_dir=work / "data")
        instance = build(settings)
        app, secret = instance.accounts.register_application("bench", AppRole.READ_WRITE_ALL, ADMIN)
        tenant = instance.accounts.tenant_id()
        _, enrol = instance.agents.create_enrollment_token(ADMIN)
        port = free_port()
        env = {**os.environ, "IOCD_DATA_DIR": str(work / "data"), "IOCD_PORT": str(port)}
        iocd = str(Path(sys.executable).with_name("iocd"))
        quiet = subprocess.DEVNULL
        server = subprocess.Popen([iocd, "serve"], env=env, stdout=quiet, stderr=quiet, text=True)
        children.append(server)
        url = f"http://127.0.0.1:{port}"
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

        applied: dict[int, list[tuple[int, float]]] = {}
        errors: list[str] = []
        lock = threading.Lock()

        def read(child: subprocess.Popen[str]) -> None:
            assert child.stdout is not None
            for line in child.stdout:
                kind, agent, *rest = line.split()
                with lock:
                    if kind == "applied":
                        seq, at = rest
                        applied.setdefault(int(agent), []).append((int(seq), float(at)))
                    else:
                        errors.append(line.strip())

        credentials = []
        started = time.perf_counter()
        with AgentClient(url, timeout=60) as enrolling:  # one after another, as hosts would
            for n in range(args.agents):
                facts = {**host_facts([]), "hostname": f"bench-agent-{n}", "enrollToken": enrol}
                credentials.append(enrolling.enroll(facts)["deviceCredential"])
        print(f"enrolled {args.agents} agents in {time.perf_counter() - started:.1f} s")
        per = -(-args.agents // args.procs)
        for first in range(0, args.agents, per):
            child = subprocess.Popen(
                [sys.executable, "-c", AGENTS, url, str(first), str(work)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdin is not None
            child.stdin.write("\n".join(credentials[first : first + per]))
            child.stdin.close()
            children.append(child)
            threading.Thread(target=read, args=(child,), daemon=True).start()
        deadline = time.time() + 60
        while time.time() < deadline and len(applied) < args.agents:
            time.sleep(0.1)
        print(f"{len(applied)} of {args.agents} agents synced; waiting for their long polls")
        time.sleep(1.0)

        submitted: list[tuple[float, int]] = []
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
            base = instance.agent_policy.last_sequence()
            for n in range(args.changes):
                body = {
                    "indicatorValue": f"prop-{n}-{time.time_ns()}.bench.example",
                    "indicatorType": "DomainName",
                    "action": "Block",
                    "title": "propagation bench",
                    "description": "propagation benchmark",
                    "severity": "High",
                }
                start = time.time()
                api.post("/api/indicators", json=body).raise_for_status()
                submitted.append((start, base + n + 1))
                time.sleep(args.gap)
        last = submitted[-1][1]
        deadline = time.time() + 30
        while time.time() < deadline:
            with lock:
                if all(max(s for s, _ in found) >= last for found in applied.values()):
                    break
            time.sleep(0.1)
        final = instance.agent_policy.last_sequence()
        assert final == last, f"expected sequence {last}, the server is at {final}"

        latencies = []
        with lock:
            for start, sequence in submitted:
                reached = [
                    min((at for seq, at in found if seq >= sequence), default=float("inf"))
                    for found in applied.values()
                ]
                latencies.append(max(reached) - start)
        ordered = sorted(latencies)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        print(
            f"{args.changes} changes, {len(applied)} agents (threads in {len(children) - 1} "
            f"processes), {args.gap:.2f} s apart: time until every agent applied it: "
            f"p50 {statistics.median(ordered):.3f} s, p95 {p95:.3f} s, max {ordered[-1]:.3f} s "
            f"(goal: p95 < 2 s); agent errors: {len(errors)}"
        )
        for line in errors[:5]:
            print(f"  {line}")
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
