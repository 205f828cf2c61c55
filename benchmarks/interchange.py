"""Benchmark: import a MISP event of 200,000 attributes and a STIX 2.1 bundle of 100,000
indicators into a fresh SQLite store, end to end, through the real command
(`iocd indicators import FILE`, a child process each).

Reports indicators/s and the child's peak resident memory per format, next to a baseline
measured in the same run: the codec alone reading the same file (parse and validate, nothing
stored), so a noisy machine shows in both figures.

    python benchmarks/interchange.py [--misp-attributes 200000] [--stix-indicators 100000]
                                     [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from common import git_revision, machine, value_of

from iocd.codecs.import_formats import ImportFormat, ImportOptions, choose_reader
from iocd.reference.warninglists import WarninglistsReference

GOAL = 20_000
MISP_TYPES = (
    ("sha256", "FileSha256"),
    ("md5", "FileMd5"),
    ("sha1", "FileSha1"),
    ("ip-dst", "IpAddress"),
    ("domain", "DomainName"),
    ("url", "Url"),
    ("filename|sha256", "FileSha256"),
)
STIX_PATHS = {
    "FileSha256": "file:hashes.'SHA-256'",
    "FileMd5": "file:hashes.MD5",
    "IpAddress": "ipv4-addr:value",
    "DomainName": "domain-name:value",
    "Url": "url:value",
}
TAGS = [
    {"name": "tlp:amber"},
    {"name": 'misp-galaxy:mitre-attack-pattern="Application Layer Protocol - T1071"'},
]


def misp_attributes(count: int) -> Iterator[dict[str, object]]:
    for n in range(count):
        misp_type, kind = MISP_TYPES[n % len(MISP_TYPES)]
        value = value_of(kind, n)
        if misp_type.startswith("filename|"):
            value = f"sample-{n}.exe|{value}"
        yield {
            "id": str(n + 1),
            "type": misp_type,
            "category": "Network activity",
            "to_ids": True,
            "uuid": str(uuid.UUID(int=n + 1, version=4)),
            "timestamp": "1700000000",
            "comment": f"seen in campaign {n % 97}",
            "value": value,
            "Tag": TAGS if n % 10 == 0 else [],
        }


def write_misp(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('{"Event": {"info": "Benchmark event", "uuid": ' + json.dumps(str(uuid.uuid4())))
        out.write(", ")
        out.write('"Tag": [{"name": "tlp:green"}], "Attribute": [\n')
        for n, attribute in enumerate(misp_attributes(count)):
            out.write(("," if n else "") + json.dumps(attribute) + "\n")
        out.write("]}}\n")


def stix_objects(count: int) -> Iterator[dict[str, object]]:
    kinds = list(STIX_PATHS)
    for n in range(count):
        kind = kinds[n % len(kinds)]
        yield {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.UUID(int=n + 1, version=4)}",
            "created": "2024-01-01T00:00:00.000Z",
            "modified": "2024-01-01T00:00:00.000Z",
            "name": f"C2 indicator {n}",
            "description": f"seen in campaign {n % 97}",
            "indicator_types": ["malicious-activity"],
            "pattern": f"[{STIX_PATHS[kind]} = '{value_of(kind, n)}']",
            "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z",
            "kill_chain_phases": [
                {"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}
            ],
            "external_references": [{"source_name": "mitre-attack", "external_id": "T1071"}],
        }


def write_stix(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('{"type": "bundle", "id": "bundle--' + str(uuid.uuid4()) + '", "objects": [\n')
        for n, obj in enumerate(stix_objects(count)):
            out.write(("," if n else "") + json.dumps(obj) + "\n")
        out.write("]}\n")


def reader_baseline(path: Path, chosen: ImportFormat) -> float:
    """Items per second of the codec alone (parse and validate; nothing stored)."""
    from datetime import UTC, datetime

    reference = WarninglistsReference()
    reference.load()
    reader = choose_reader(
        chosen,
        ImportOptions(action="Block"),
        source_name=path.name,
        now=datetime.now(UTC),
        known_benign=reference.reason,
    )
    start = time.perf_counter()
    with path.open("rb") as stream:
        count = sum(1 for _ in reader(stream))
    return count / (time.perf_counter() - start)


def run_import(path: Path, data_dir: Path, chosen: ImportFormat) -> tuple[float, float, float, str]:
    """(seconds, CPU seconds, peak RSS in MB, summary line) of `iocd indicators import` in a
    child (CPU and memory include the read-ahead process it forks and waits for)."""
    env = {**os.environ, "IOCD_DATA_DIR": str(data_dir)}
    iocd = Path(sys.executable).with_name("iocd")
    subprocess.run([str(iocd), "db", "upgrade"], env=env, check=True, capture_output=True)
    command = [str(iocd), "indicators", "import", str(path), "--format", chosen.value]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(
            [*command, "--action", "Block"], env=env, stdout=out, stderr=subprocess.PIPE
        )
        assert child.stderr is not None
        errors = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - start
        out.seek(0)
        summary = out.read().strip()
    if child.returncode != 0:
        raise SystemExit(f"import failed ({child.returncode}): {errors[-2000:]!r}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, summary


def measure(
    label: str, path: Path, chosen: ImportFormat, expected: int, work: Path, repeat: int = 1
) -> tuple[float, float]:
    """Imports `repeat` times (each into a fresh store); the figures are the median run's."""
    size_mb = path.stat().st_size / 2**20
    baseline = reader_baseline(path, chosen)
    runs = [run_import(path, work / f"data-{chosen.value}-{n}", chosen) for n in range(repeat)]
    elapsed, cpu, peak_mb, summary = sorted(runs)[len(runs) // 2]
    rate = expected / elapsed
    print(f"{label}: {expected:,} indicators, {size_mb:.0f} MiB")
    print(f"  import result: {summary}")
    print(f"  end to end: {elapsed:.1f} s = {rate:,.0f} indicators/s (goal >= {GOAL:,})")
    if repeat > 1:
        each = ", ".join(f"{expected / run[0]:,.0f}" for run in runs)
        print(f"  the median of {repeat} imports, which were (in order): {each} indicators/s")
    print(
        f"  CPU: {cpu:.1f} s in all (importer and read-ahead process) = "
        f"{expected / cpu:,.0f} indicators per CPU-second"
    )
    print(f"  peak memory of one process (importer or read-ahead): {peak_mb:.0f} MB")
    print(f"  baseline, {chosen.value} reader alone: {baseline:,.0f} items/s")
    return rate, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misp-attributes", type=int, default=200_000)
    parser.add_argument("--stix-indicators", type=int, default=100_000)
    parser.add_argument(
        "--repeat", type=int, default=1, help="Imports of each file (the median is shown)."
    )
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    work = Path(tempfile.mkdtemp(prefix="iocd-bench-"))
    try:
        misp_path, stix_path = work / "event.json", work / "bundle.json"
        write_misp(misp_path, args.misp_attributes)
        write_stix(stix_path, args.stix_indicators)
        misp, stix = ImportFormat.MISP, ImportFormat.STIX
        measure("MISP event", misp_path, misp, args.misp_attributes, work, args.repeat)
        measure("STIX bundle", stix_path, stix, args.stix_indicators, work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
