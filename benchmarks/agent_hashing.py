"""Agent file scanning: hashing plus decision against `openssl dgst -sha256` alone (issue 6).

Files: one 1 GiB file, and 2,000 small files of mixed sizes (1 KiB to 1 MiB, log-uniform). The
agent's pass is `Protector.check` per file (read once, hash only the types the policy holds,
decide with the single-event matcher; enforcement off so nothing moves), with a policy of
10,000 SHA-256 indicators, then with 10,000 of each hash type. `openssl dgst -sha256` runs once
over all the files (one process). Peer: `clamscan` with the same SHA-256 values as a hash
signature database (.hsb), when installed. Files are read once first (warm page cache for every
contender); each figure is the median of 3 runs.

    .venv/bin/python benchmarks/agent_hashing.py [--folder /tmp/iocd-bench] [--big-mib 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import git_revision, machine
from iocd.agent.policy import Policy
from iocd.agent.protect import Device, Protector
from iocd.agent.quarantine import Exemptions, Vault
from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType

INDICATORS = 10_000
SMALL_FILES = 2_000


def make_files(folder: Path, big_mib: int) -> tuple[list[str], list[str]]:
    big = folder / "big"
    small = folder / "small"
    big.mkdir(parents=True, exist_ok=True)
    small.mkdir(parents=True, exist_ok=True)
    big_file = big / "one.bin"
    if not big_file.exists() or big_file.stat().st_size != big_mib << 20:
        block = os.urandom(16 << 20)
        with open(big_file, "wb") as out:
            for n in range(big_mib // 16):
                out.write(block[n % 7 :] + block[: n % 7])
    rng = random.Random(6)
    smalls = []
    for n in range(SMALL_FILES):
        path = small / f"f{n:04d}.bin"
        size = int(math.exp(rng.uniform(math.log(1024), math.log(1 << 20))))
        if not path.exists() or path.stat().st_size != size:
            path.write_bytes(os.urandom(size))
        smalls.append(str(path))
    return [str(big_file)], smalls


def policy(types: tuple[IndicatorType, ...], hit: str) -> Policy:
    widths = {
        IndicatorType.FILE_SHA256: 64,
        IndicatorType.FILE_SHA1: 40,
        IndicatorType.FILE_MD5: 32,
    }
    items = []
    for t in types:
        for n in range(INDICATORS):
            value = hashlib.sha256(f"{t}{n}".encode()).hexdigest()[: widths[t]]
            items.append(ListedIndicator(len(items) + 1, t, value, Action.AUDIT))
    items.append(ListedIndicator(len(items) + 1, IndicatorType.FILE_SHA256, hit, Action.BLOCK))
    return Policy.from_snapshot(items, 1, None)


def median_seconds(action: Callable[[], object], runs: int = 3) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def agent_pass(chosen: Policy, files: list[str], scratch: Path) -> Callable[[], object]:
    protector = Protector(
        lambda: chosen,
        Vault(scratch / "vault"),
        None,
        Exemptions(scratch / "restored.json"),
        lambda: Device("bench", "bench", "Ungrouped devices"),
        enforce=False,
    )

    def run() -> None:
        for path in files:
            protector.check(path)

    return run


def openssl_pass(files: list[str]) -> Callable[[], object]:
    def run() -> None:
        subprocess.run(
            ["openssl", "dgst", "-sha256", *files], check=True, stdout=subprocess.DEVNULL
        )

    return run


def clamscan_pass(files: list[str], database: Path) -> Callable[[], object]:
    def run() -> None:
        subprocess.run(
            [
                "clamscan",
                "--no-summary",
                "--infected",
                "--max-filesize=4000M",  # the defaults (100 MiB, 400 MiB) skip the big file
                "--max-scansize=4000M",
                "-d",
                str(database),
                *files,
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--folder", type=Path, default=Path(tempfile.gettempdir()) / "iocd-agent-bench"
    )
    parser.add_argument("--big-mib", type=int, default=1024)
    args = parser.parse_args()
    print(machine())
    version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout
    print(f"git {git_revision()}; {version.strip()}")
    big, smalls = make_files(args.folder, args.big_mib)
    small_bytes = sum(os.path.getsize(p) for p in smalls)
    hit = hashlib.sha256(Path(smalls[0]).read_bytes()).hexdigest()
    sha_only = policy((IndicatorType.FILE_SHA256,), hit)
    all_three = policy(
        (IndicatorType.FILE_SHA256, IndicatorType.FILE_SHA1, IndicatorType.FILE_MD5), hit
    )
    scratch = args.folder / "scratch"
    clam = shutil.which("clamscan")
    database = args.folder / "signatures.hsb"
    if clam:
        lines = [f"{i.value}:*:Iocd.Bench.{i.id}:73" for i in sha_only.indicators()]
        database.write_text("\n".join(lines) + "\n")
    for files in (big, smalls):
        for path in files:  # warm the page cache for everyone
            with open(path, "rb") as handle:
                while handle.read(1 << 24):
                    pass
    print(f"policy: {INDICATORS:,} indicators per hash type (+1 Block that matches a small file)")
    for label, files, size in (
        (f"1 file of {args.big_mib} MiB", big, args.big_mib << 20),
        (f"{len(smalls):,} small files, {small_bytes / 2**20:.0f} MiB", smalls, small_bytes),
    ):
        openssl = median_seconds(openssl_pass(files))
        sha = median_seconds(agent_pass(sha_only, files, scratch))
        three = median_seconds(agent_pass(all_three, files, scratch))
        mib = size / 2**20
        print(f"\n{label}")
        print(f"  openssl dgst -sha256     {openssl:8.3f} s  {mib / openssl:8.0f} MiB/s")
        print(
            f"  agent, SHA-256 policy    {sha:8.3f} s  {mib / sha:8.0f} MiB/s  "
            f"ratio {openssl / sha:.2f} (goal >= 0.80)"
        )
        print(
            f"  agent, all three hashes  {three:8.3f} s  {mib / three:8.0f} MiB/s  "
            f"ratio {openssl / three:.2f}"
        )
        if clam:
            clamscan = median_seconds(clamscan_pass(files, database))
            found = subprocess.run(
                ["clamscan", "--no-summary", "--infected", "-d", str(database), smalls[0]],
                check=False,
                capture_output=True,
                text=True,
            )
            assert "FOUND" in found.stdout, "clamscan did not find the listed file"
            print(
                f"  clamscan (.hsb, SHA-256) {clamscan:8.3f} s  {mib / clamscan:8.0f} MiB/s  "
                f"agent is {clamscan / sha:.1f}x faster (goal >= 5)"
            )
        else:
            print("  clamscan: not installed, not measured")


if __name__ == "__main__":
    main()
