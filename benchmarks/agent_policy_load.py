"""Benchmark: an agent's first policy load at 1,000,000 indicators (issue 6, "Agent memory with a
1,000,000-indicator policy: under 150 MB; initial snapshot download and load under 5 s").

Imports N indicators into a fresh SQLite store (as policy_snapshot.py does; `--data-dir` reuses
a store made before), times the server's detection-index build at start, serves the API from a
live server and enrols one device (the server's snapshot cache warmed by one request first, whose
time is printed too). Then, in a fresh process that is the agent's own (nothing imported before;
it never imports pyarrow, which is checked):

- its resident memory after importing numpy only (the baseline), then after importing the
  agent's modules;
- `PolicySync.fetch_snapshot()` as the agent runs it: the snapshot streamed to a file in the
  policy cache (download time), then verified and compiled by the compile process (a child:
  `python -m iocd.agent.compile_policy`) and mapped by the agent (load time);
- the agent process's VmRSS = RssAnon (its private memory) + RssFile (file pages: the shared
  libraries, and the mapped index once read), right after the load, and again after every page
  of the index has been read (the most a long-running agent holds for it), with its peak (VmHWM)
  over the load; the compile process's own peak, reported apart (it exits);
- one delta applied (one entry changed, in the agent's process), then one of 8,193 changes
  (given to `PolicySync.step` as the server's JSON answer), which passes the fold threshold:
  the overlay is folded by the compile process in the background and swapped in; the agent's
  peak over that, and the compile process's.

Peaks are per phase: the process's VmHWM is reset between phases (/proc/self/clear_refs).

    python benchmarks/agent_policy_load.py [--rows 1000000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
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
    import json, sys, time
    from dataclasses import replace
    from pathlib import Path
    from iocd.agent.memory import resident_memory
    def reset_peak():
        with open("/proc/self/clear_refs", "w") as out:
            out.write("5")
    def memory():
        return {k: round(v, 1) for k, v in resident_memory().items()}
    figures = {}
    started = time.perf_counter()
    import numpy
    figures["numpy"] = memory()
    import iocd.main, iocd.agent.main  # the modules `iocd agent` loads
    from iocd.agent.client import AgentClient
    from iocd.agent.policy_cache import PolicyCache
    from iocd.agent.protocol import Delta, digest_text, entry_hash
    from iocd.agent.sync import PolicySync
    from iocd.domain.types import Action
    from iocd.matching.part_arrays import part_to_arrays
    figures["imports"] = time.perf_counter() - started
    figures["imported"] = memory()
    client = AgentClient(sys.argv[1], sys.argv[2], timeout=120)
    cache = PolicyCache(Path(sys.argv[3]))
    sync = PolicySync(client, cache)
    download = client.download_snapshot
    def timed(path):
        begun = time.perf_counter()
        got = download(path)
        figures["download"] = time.perf_counter() - begun
        figures["size"] = got.size / 2**20
        return got
    client.download_snapshot = timed
    reset_peak()
    begun = time.perf_counter()
    policy = sync.fetch_snapshot()
    figures["load"] = time.perf_counter() - begun - figures["download"]
    figures["compile"] = cache.last.seconds
    figures["child"] = cache.last.peak
    figures["indicators"] = len(policy)
    figures["loaded"] = memory()
    def touch(part):
        for array in part_to_arrays(part)[0].values():
            int(numpy.asarray(array).reshape(-1).view(numpy.uint8)[::4096].sum())  # every page
    touch(policy.index.base)
    figures["touched"] = memory()

    def changed(ids, sequence):
        value = int(sync.policy.digest, 16)
        upserts = []
        for ident in ids:
            old = sync.policy.get(ident)
            new = replace(old, action=Action.AUDIT if old.action != Action.AUDIT else Action.WARN,
                          sequence=sequence)
            value ^= entry_hash(old) ^ entry_hash(new)
            upserts.append(new)
        return Delta(sequence, digest_text(value), tuple(upserts), ())

    ids, sequence = policy.index.base.ids[:8194].tolist(), policy.sequence
    del policy  # the agent holds only sync.policy
    reset_peak()
    begun = time.perf_counter()
    sync.apply_delta(changed(ids[:1], sequence + 1))
    figures["delta"] = time.perf_counter() - begun
    figures["after_delta"] = memory()
    body = json.dumps(changed(ids[1:8194], sequence + 2).to_wire())  # as the server answers
    client.changes = lambda since, wait: json.loads(body)
    reset_peak()
    begun = time.perf_counter()
    assert sync.step(0) == "delta"
    figures["big_delta"] = time.perf_counter() - begun
    del body
    sync.wait_folded()
    figures["fold"] = time.perf_counter() - begun
    figures["folded"] = sync.policy.index.overlay_size == 0
    figures["fold_child"] = cache.last.peak
    figures["after_fold"] = memory()
    touch(sync.policy.index.base)
    figures["touched_fold"] = memory()
    figures["pyarrow"] = "pyarrow" in sys.modules
    print(json.dumps(figures))
    """
)


def rss(found: dict[str, float]) -> str:
    return (
        f"VmRSS {found['VmRSS']:.0f} MB = RssAnon {found['RssAnon']:.0f} + "
        f"RssFile {found['RssFile']:.0f}"
    )


def report(figures: dict[str, object]) -> None:
    f: dict[str, object] = figures
    numpy, imported, loaded = f["numpy"], f["imported"], f["loaded"]
    touched, after_delta, after_fold = f["touched"], f["after_delta"], f["after_fold"]
    touched_fold = f["touched_fold"]
    assert isinstance(numpy, dict) and isinstance(imported, dict) and isinstance(loaded, dict)
    assert isinstance(touched, dict) and isinstance(after_delta, dict)
    assert isinstance(after_fold, dict) and isinstance(touched_fold, dict)
    print(
        f"agent process (fresh): pyarrow imported: {'yes' if f['pyarrow'] else 'no'}; "
        f"baseline after `import numpy` only: {rss(numpy)}; after the agent's imports "
        f"({f['imports']:.2f} s): {rss(imported)}"
    )
    print(
        f"  download {f['size']:.1f} MB in {f['download']:.2f} s (streamed to the cache); "
        f"load {f['load']:.2f} s (compile process {f['compile']:.2f} s: start, verify digest, "
        f"compile, write; then map); download + load {float(f['download']) + float(f['load']):.2f}"
        f" s (goal < 5 s); {f['indicators']:,} indicators"
    )
    print(
        f"  after load: {rss(loaded)}; peak during the load {loaded['VmHWM']:.0f} MB (VmHWM); "
        f"compile process peak {f['child']:.0f} MB (a child; it exits)"
    )
    print(
        f"  every page of the index read (steady state, worst case): {rss(touched)} (goal < 150 MB)"
    )
    print(
        f"  one delta (1 change) applied in {1000 * float(f['delta']):.1f} ms: "
        f"{rss(after_delta)}, peak {after_delta['VmHWM']:.0f} MB"
    )
    print(
        f"  8,193 changes in one delta, then the overlay folded by the compile process and "
        f"swapped in: {f['fold']:.2f} s (the delta itself, JSON to applied, "
        f"{f['big_delta']:.2f} s; folded: {f['folded']}); after: {rss(after_fold)}; agent peak "
        f"over it {after_fold['VmHWM']:.0f} MB; compile process peak {f['fold_child']:.0f} MB"
    )
    print(f"  every page of the folded index read: {rss(touched_fold)}")


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
        before = set(threading.enumerate())
        server, base = serve(create_app(settings, instance))
        try:
            start = time.perf_counter()
            with AgentClient(base, credential, timeout=600) as client:
                client.snapshot()
            print(f"server: first snapshot request (builds it) {time.perf_counter() - start:.2f} s")
            done = subprocess.run(
                [sys.executable, "-c", AGENT, base, credential, str(work / "agent-policy")],
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            server.should_exit = True
            for thread in set(threading.enumerate()) - before:
                thread.join(timeout=30)  # the server's shutdown, before the interpreter's
        report(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
