"""Benchmark: with N active indicators, look one up by value and list a filtered page of 100.

Fills a store through the real import path (or reuses one given with --data-dir), then times the
service calls the CLI and API make. Baseline in the same run: an empty read-only transaction
(the fixed cost of asking the store anything).

    python benchmarks/lookup.py [--rows 1000000] [--data-dir DIR] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from common import TYPES, csv_rows, git_revision, machine, summary_ms, timings, value_of

from iocd.codecs.csv import read_csv
from iocd.codecs.rows import as_parsed_rows
from iocd.compose import build
from iocd.config import Settings
from iocd.domain.principal import Principal, Role
from iocd.domain.query import And, Compare, IndicatorQuery, Op
from iocd.services.imports import import_rows

ADMIN = Principal("bench", Role.GLOBAL_ADMINISTRATOR, "Cli")


def fill(settings: Settings, rows: int) -> None:
    instance = build(settings)
    if instance.indicators.active_count() >= rows:
        return
    path = settings.data_dir / "fill.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        out.writelines(csv_rows(rows))
    start = time.perf_counter()
    with path.open("rb") as stream:
        report = import_rows(
            instance.indicators, as_parsed_rows(read_csv(stream)), ADMIN, chunk_size=5000
        )
    print(f"filled {report.created:,} indicators in {time.perf_counter() - start:.0f} s")
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()
    print(f"machine: {machine()}; revision {git_revision()}")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="iocd-lookup-"))
    settings = Settings(data_dir=data_dir, database_url=args.database_url)
    fill(settings, args.rows)
    # No ANALYZE here: a store right after an import is what users query (PostgreSQL refreshes
    # its statistics itself while a table grows; SQLite must plan well without any).
    instance = build(settings)
    active = instance.indicators.active_count()
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"store: {store}; {active:,} active indicators")

    def empty_read() -> None:
        with instance.store.transaction(readonly=True):
            pass

    rng = random.Random(7)
    wanted = [value_of(TYPES[n % len(TYPES)], n) for n in rng.sample(range(args.rows), 1000)]
    cursor = iter(wanted * (args.repeat // len(wanted) + 1))

    def by_value() -> None:
        query = IndicatorQuery(where=Compare("indicatorValue", Op.EQ, next(cursor)), top=100)
        page = instance.indicators.list(query, ADMIN)
        assert len(page.items) == 1

    filtered = IndicatorQuery(
        where=And(
            (Compare("action", Op.EQ, "Block"), Compare("indicatorType", Op.EQ, "IpAddress"))
        ),
        top=100,
    )

    def page_of_100() -> None:
        assert len(instance.indicators.list(filtered, ADMIN).items) == 100

    for action in (empty_read, by_value, page_of_100):
        action()  # warm caches once
    baseline = timings(empty_read, args.repeat)
    lookups = timings(by_value, args.repeat)
    pages = timings(page_of_100, args.repeat)
    print(f"baseline, empty read-only transaction: {summary_ms(baseline)}")
    print(f"look up one indicator by value:        {summary_ms(lookups)} (goal median < 5 ms)")
    print(f"filtered page of 100 (Block, IpAddress): {summary_ms(pages)} (goal median < 5 ms)")


if __name__ == "__main__":
    main()
