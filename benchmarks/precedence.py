"""Benchmark: the time `policy.precedence.decide` takes for 1, 2 and 3 matching candidates.

It runs for every matching event on the server and for every file in the agent, so the figure is
per call in microseconds. Each sample times a batch of calls (a single call is too short for the
clock), and the median and 99th percentile of the per-call time over the samples are printed.

    python benchmarks/precedence.py [--samples 200] [--batch 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

from common import git_revision, machine

from iocd.domain.decision import (
    Authority,
    Candidate,
    EntityKind,
    FileContext,
    ListedIndicator,
    MatchKind,
)
from iocd.domain.types import Action, IndicatorType
from iocd.policy.precedence import decide


def indicator(
    n: int, kind: IndicatorType, action: Action, groups: frozenset[str] = frozenset()
) -> ListedIndicator:
    return ListedIndicator(n, kind, f"value-{n}", action, groups, Authority.ORGANISATION)


FILE_CANDIDATES = [
    Candidate(indicator(3, IndicatorType.FILE_SHA256, Action.BLOCK), MatchKind.SHA256),
    Candidate(
        indicator(1, IndicatorType.FILE_MD5, Action.ALLOWED, frozenset({"Servers"})),
        MatchKind.MD5,
    ),
    Candidate(indicator(2, IndicatorType.FILE_SHA1, Action.AUDIT), MatchKind.SHA1),
]
NETWORK_CANDIDATES = [
    Candidate(indicator(5, IndicatorType.URL, Action.BLOCK), MatchKind.URL, 2),
    Candidate(indicator(4, IndicatorType.DOMAIN_NAME, Action.ALLOWED), MatchKind.PARENT_DOMAIN, 2),
    Candidate(indicator(6, IndicatorType.IP_ADDRESS, Action.WARN), MatchKind.CIDR, 24),
]
TRUSTED = FileContext(signature_valid=True, signer_trusted=True)


def per_call_us(action: Callable[[], object], samples: int, batch: int) -> list[float]:
    """Microseconds per call, one figure per batch of `batch` calls."""
    loop = range(batch)
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in loop:
            action()
        out.append((time.perf_counter() - start) / batch * 1e6)
    return out


def summary_us(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered):.2f} µs, p99 {p99:.2f} µs (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")

    def empty() -> None:
        pass

    cases: list[tuple[str, Callable[[], object]]] = [("baseline, empty call", empty)]
    for count in (1, 2, 3):
        plural = "s" if count > 1 else ""
        for entity, candidates in (
            (EntityKind.FILE, FILE_CANDIDATES[:count]),
            (EntityKind.NETWORK, NETWORK_CANDIDATES[:count]),
        ):
            call = partial(decide, candidates, device_group="Servers", entity=entity)
            cases.append((f"{entity.value}, {count} candidate{plural}", call))
    trusted = partial(
        decide, FILE_CANDIDATES[:1], device_group="Servers", entity=EntityKind.FILE, file=TRUSTED
    )
    cases.append(("trusted signed file, 1 hash Block", trusted))
    width = max(len(name) for name, _ in cases) + 1
    for name, action in cases:
        per_call_us(action, 5, args.batch)  # warm up
        print(f"{name + ':':<{width}} {summary_us(per_call_us(action, args.samples, args.batch))}")


if __name__ == "__main__":
    main()
