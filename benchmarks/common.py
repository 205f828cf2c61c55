"""Shared by the benchmark scripts: the machine, medians, and generated indicator data."""

from __future__ import annotations

import hashlib
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator

import iocd


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()
    return (
        f"iocd {iocd.__version__}; Python {platform.python_version()}; {os.cpu_count()} cores "
        f"({cpu}); {mem_gib:.0f} GiB; load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}"
    )


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def timings(action: Callable[[], object], repeat: int) -> list[float]:
    """Seconds per call, `repeat` calls."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        out.append(time.perf_counter() - start)
    return out


def summary_ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"median {statistics.median(ordered) * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms "
        f"(n={len(ordered)})"
    )


TYPES = ("FileSha256", "FileSha1", "FileMd5", "IpAddress", "DomainName", "Url")
ACTIONS = ("Block", "Audit", "Warn", "Allowed")


def value_of(kind: str, n: int) -> str:
    """A distinct, guardrail-safe value of the type for each n."""
    digest = hashlib.sha256(n.to_bytes(8, "big")).hexdigest()
    if kind == "FileSha256":
        return digest
    if kind == "FileSha1":
        return digest[:40]
    if kind == "FileMd5":
        return digest[:32]
    if kind == "IpAddress":
        # 11.0.0.0/8 ... 99.0.0.0/8: public unicast space, never a listed resolver in practice.
        return f"{45 + n % 50}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255 or 1}"
    if kind == "DomainName":
        return f"c2-{digest[:12]}.bench-{n % 997}.net"
    return f"https://dl-{digest[:10]}.bench.org/payload/{n}.exe?x={n % 7}"


def csv_rows(count: int) -> Iterator[str]:
    """MDE-column CSV lines (with header) of `count` distinct indicators of every type."""
    yield (
        "IndicatorType,IndicatorValue,ExpirationTime,Action,Severity,Title,Description,"
        "RecommendedActions,RbacGroups,Category,MitreTechniques,GenerateAlert\r\n"
    )
    for n in range(count):
        kind = TYPES[n % len(TYPES)]
        action = ACTIONS[(n // len(TYPES)) % len(ACTIONS)]
        group = '"Servers,Laptops"' if n % 10 == 0 else ""
        yield (
            f"{kind},{value_of(kind, n)},2031-01-01T00:00:00Z,{action},High,"
            f"Bench {n},Generated indicator {n},Isolate the device,{group},Execution,"
            f"T1059.001,{'true' if action == 'Audit' else 'false'}\r\n"
        )
