"""Compiled index and matchers: build, change, memory, batch and single-event figures.

Fixed seed, synthetic data (no files): 1,000,000 indicators (600k SHA-256; 200k IP of which
20k CIDR; 150k domains; 50k URLs) and 10,000,000 events with about 1% hits, matched in batches
of 1,000,000 rows. Baselines run in the same process on the same columns: a DuckDB semi-join
(hashes), a per-event Python loop and a DuckDB suffix join (domains).

    .venv/bin/python benchmarks/matching.py [--events 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import git_revision, machine
from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.types import Action, IndicatorType
from iocd.matching.batch import match_batch
from iocd.matching.columns import EVENT_SCHEMA
from iocd.matching.index import CompiledIndex, Removal, build
from iocd.matching.single import decide_event

SEED = 20240601
BATCH = 1_000_000
HOT = 10_000
"""Hits are drawn from this many listed values of each type (what is active in an incident),
so decisions repeat as they do in real telemetry; the first run decides every one of them."""
GROUPS = ("Servers", "Laptops", "Kiosks")
TLDS = ("com", "net", "org", "io", "info", "xyz", "ru", "de")
ALPHABET = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)


def labels(rng: np.random.Generator, count: int, low: int = 5, high: int = 12) -> pa.Array:
    """`count` random lower-case labels as an Arrow string array (vectorised)."""
    lengths = rng.integers(low, high + 1, size=count)
    offsets = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = ALPHABET[rng.integers(0, len(ALPHABET), size=int(offsets[-1]))]
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())]
    )


def join(*parts: pa.Array | str, sep: str = ".") -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep)


def pick(rng: np.random.Generator, values: list[str], count: int) -> pa.Array:
    return pa.array(np.array(values, dtype=object)[rng.integers(0, len(values), size=count)])


# ---------------------------------------------------------------- indicators


class Listed:
    """The generated list: values per type, kept so events can hit them."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.sha256 = rng.bytes(32 * 600_000)
        v4 = rng.integers(0x0B000000, 0xDF000000, size=170_000, dtype=np.int64)
        self.ipv4 = np.unique(v4)
        self.ipv6 = [f"2001:db8:{i:x}::{(i * 7919) % 65536:x}" for i in range(1, 10_001)]
        prefixes = rng.choice(
            [16, 20, 22, 24, 28, 30], p=[0.01, 0.05, 0.14, 0.6, 0.1, 0.1], size=19_000
        )
        nets = rng.integers(0x0B000000, 0xDF000000, size=19_000, dtype=np.int64)
        nets &= ~((1 << (32 - prefixes)) - 1)
        self.cidr4 = sorted({(int(n), int(p)) for n, p in zip(nets, prefixes, strict=True)})
        self.cidr6 = [f"2001:db8:{i:x}::/48" for i in range(1, 1001)]
        self.domains = join(labels(rng, 150_000, 6, 14), pick(rng, list(TLDS), 150_000)).to_pylist()
        deeper = rng.random(150_000) < 0.3
        prefix = labels(rng, 150_000, 3, 8).to_pylist()
        self.domains = list(
            dict.fromkeys(
                f"{p}.{d}" if deep else d
                for p, d, deep in zip(prefix, self.domains, deeper.tolist(), strict=True)
            )
        )
        hosts = join(labels(rng, 50_000, 6, 12), pick(rng, list(TLDS), 50_000)).to_pylist()
        segments = labels(rng, 50_000, 3, 9).to_pylist()
        self.urls = [
            f"https://{h}/{s}/{i % 97}" + ("?id=" + str(i) if i % 10 == 0 else "")
            for i, (h, s) in enumerate(zip(hosts, segments, strict=True))
        ]

    def indicators(self, rng: np.random.Generator) -> Iterator[ListedIndicator]:
        """The 1,000,000 indicators, made fresh (so a build owns every object it keeps)."""
        actions = (Action.BLOCK, Action.AUDIT, Action.WARN, Action.ALLOWED)
        n = 0

        def one(kind: IndicatorType, value: str) -> ListedIndicator:
            nonlocal n
            n += 1
            scoped = n % 10 == 0
            return ListedIndicator(
                id=n,
                indicator_type=kind,
                value=value,
                action=actions[n % 4]
                if kind is not IndicatorType.FILE_SHA256
                else (Action.BLOCK_AND_REMEDIATE if n % 5 == 0 else actions[n % 4]),
                groups=frozenset({GROUPS[n % 3]}) if scoped else frozenset(),
                authority=Authority.GROUP if scoped else Authority.ORGANISATION,
                generate_alert=True,
                sequence=n,
            )

        text = self.sha256.hex()
        for at in range(0, len(text), 64):
            yield one(IndicatorType.FILE_SHA256, text[at : at + 64])
        for address in self.ipv4.tolist():
            yield one(IndicatorType.IP_ADDRESS, _v4(address))
        for address6 in self.ipv6:
            yield one(IndicatorType.IP_ADDRESS, address6)
        for net, plen in self.cidr4:
            yield one(IndicatorType.IP_ADDRESS, f"{_v4(net)}/{plen}")
        for block in self.cidr6:
            yield one(IndicatorType.IP_ADDRESS, block)
        for domain in self.domains:
            yield one(IndicatorType.DOMAIN_NAME, domain)
        for url in self.urls:
            yield one(IndicatorType.URL, url)


def _v4(address: int) -> str:
    return f"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}"


# ---------------------------------------------------------------- events


def _fixed(values: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    count = len(values) // width
    mask = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.binary(width), count, [mask, pa.py_buffer(values)])


def _batch(columns: dict[str, pa.Array], count: int) -> pa.RecordBatch:
    arrays = []
    for field in EVENT_SCHEMA:
        if field.name in columns:
            arrays.append(columns[field.name])
        elif field.name == "time":
            arrays.append(pa.array(np.zeros(count, dtype="datetime64[us]"), type=field.type))
        elif field.name in ("kind", "device_id"):
            arrays.append(pa.array(["x"] * count, type=pa.string()))
        else:
            arrays.append(pa.nulls(count, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)


def hash_batch(rng: np.random.Generator, listed: Listed, count: int) -> pa.RecordBatch:
    digests = np.frombuffer(rng.bytes(32 * count), dtype=np.uint8).reshape(count, 32).copy()
    hits = np.flatnonzero(rng.random(count) < 0.01)
    known = np.frombuffer(listed.sha256, dtype=np.uint8).reshape(-1, 32)
    digests[hits] = known[rng.integers(0, HOT, size=len(hits))]
    groups = pick(rng, [*GROUPS, "Ungrouped devices"], count)
    return _batch({"sha256": _fixed(digests.ravel(), 32), "device_group": groups}, count)


def domain_column(rng: np.random.Generator, listed: Listed, count: int) -> pa.Array:
    names = join(labels(rng, count, 2, 6), labels(rng, count, 5, 12), pick(rng, list(TLDS), count))
    hits = np.flatnonzero(rng.random(count) < 0.01)
    listed_names = np.array(listed.domains, dtype=object)[rng.integers(0, HOT, size=len(hits))]
    sub = rng.random(len(hits)) < 0.5
    values = [f"www.{d}" if s else d for d, s in zip(listed_names, sub.tolist(), strict=True)]
    mask = np.zeros(count, dtype=bool)
    mask[hits] = True
    filler = np.zeros(count, dtype=np.int64)
    filler[hits] = np.arange(len(hits))
    return pc.if_else(pa.array(mask), pc.take(pa.array(values), pa.array(filler)), names)


def mixed_batch(rng: np.random.Generator, listed: Listed, count: int) -> pa.RecordBatch:
    """40% file events (SHA-256, SHA-1, MD5, signer), 60% network (address; 50% with a domain,
    20% with a URL and its host, 20% with SNI); about 1% of events hit."""
    is_file = rng.random(count) < 0.4
    net = ~is_file
    digests = np.frombuffer(rng.bytes(32 * count), dtype=np.uint8).reshape(count, 32).copy()
    known = np.frombuffer(listed.sha256, dtype=np.uint8).reshape(-1, 32)
    hit = rng.random(count)
    file_hit = is_file & (hit < 0.01)
    digests[file_hit] = known[rng.integers(0, HOT, size=int(file_hit.sum()))]
    columns: dict[str, pa.Array] = {
        "sha256": _fixed(digests.ravel(), 32, is_file),
        "sha1": _fixed(np.ascontiguousarray(digests[:, :20]).ravel(), 20, is_file),
        "md5": _fixed(np.ascontiguousarray(digests[:, 16:]).ravel(), 16, is_file),
        "signature_valid": pa.array(rng.random(count) < 0.5, mask=net),
        "signer_trusted": pa.array(rng.random(count) < 0.5, mask=net),
    }
    addresses = np.zeros((count, 16), dtype=np.uint8)
    addresses[:, 10:12] = 0xFF
    v4 = rng.integers(0x0B000000, 0xDF000000, size=count, dtype=np.int64)
    ip_hit = net & (hit < 0.003)
    v4[ip_hit] = listed.ipv4[rng.integers(0, HOT, size=int(ip_hit.sum()))]
    cidr_hit = net & (hit >= 0.003) & (hit < 0.005)
    nets = [n + 1 for n, _ in listed.cidr4]
    v4[cidr_hit] = np.array(nets)[rng.integers(0, HOT, size=int(cidr_hit.sum()))]
    addresses[:, 12:] = v4.astype(">u4").view(np.uint8).reshape(count, 4)
    columns["remote_ip"] = _fixed(addresses.ravel(), 16, net)
    domains = domain_column(rng, listed, count)
    has_domain = net & (rng.random(count) < 0.5)
    has_url = has_domain & (rng.random(count) < 0.4)
    columns["domain"] = pc.if_else(pa.array(has_domain), domains, pa.nulls(count, pa.string()))
    columns["sni"] = pc.if_else(
        pa.array(net & (rng.random(count) < 0.2)), domains, pa.nulls(count, pa.string())
    )
    paths = join("https://", domains, "/", labels(rng, count, 3, 8), "/x", sep="")
    url_hit = has_url & (rng.random(count) < 0.02)
    under = [
        u + "/more/file.bin" for u in pick(rng, listed.urls[:HOT], int(url_hit.sum())).to_pylist()
    ]
    filler = np.zeros(count, dtype=np.int64)
    filler[url_hit] = np.arange(int(url_hit.sum()))
    paths = pc.if_else(pa.array(url_hit), pc.take(pa.array(under or [""]), pa.array(filler)), paths)
    columns["url"] = pc.if_else(pa.array(has_url), paths, pa.nulls(count, pa.string()))
    columns["device_group"] = pick(rng, [*GROUPS, "Ungrouped devices"], count)
    return _batch(columns, count)


# ---------------------------------------------------------------- measuring


FIRST: list[float] = []


def seconds(action: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median seconds of `repeat` runs; the first run's time is left in FIRST[-1]."""
    samples = []
    result: object = None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = action()
        samples.append(time.perf_counter() - start)
    FIRST.append(samples[0])
    return statistics.median(samples), result


def rate(events: int, elapsed: float) -> str:
    return f"{events / elapsed / 1e6:6.1f} M events/s ({elapsed * 1000:.0f} ms)"


def report(name: str, value: str, goal: str = "") -> None:
    print(f"  {name:<58} {value}{'   goal: ' + goal if goal else ''}", flush=True)


def run_all(batches: list[pa.RecordBatch], index: CompiledIndex) -> int:
    return sum(len(match_batch(index, b)) for b in batches)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    total, repeat = args.events, args.repeat
    nbatches = max(1, total // BATCH)
    print(f"matching benchmark; git {git_revision()}; {machine()}")
    print(
        f"  seed {SEED}; {total:,} events in batches of {min(total, BATCH):,}; median of "
        f"{repeat} runs",
        flush=True,
    )
    rng = np.random.default_rng(SEED)
    listed = Listed(rng)

    # -- index build, memory, apply
    gc.collect()
    arrow_before = pa.total_allocated_bytes()
    tracemalloc.start()
    index = build(listed.indicators(np.random.default_rng(1)), 1_000_000)
    gc.collect()
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow = pa.total_allocated_bytes() - arrow_before
    count = len(index)
    print("index")
    report("indicators", f"{count:,}")
    report(
        "memory (tracemalloc + Arrow pool, after build)",
        f"{(traced + arrow) / count:.1f} bytes/indicator "
        f"({(traced + arrow) / 2**20:.1f} MiB; arrays {index.nbytes() / count:.1f} B/ind)",
        "< 120",
    )
    del index
    gc.collect()
    items = list(listed.indicators(np.random.default_rng(1)))
    build_s, index = seconds(lambda: build(items, 1_000_000), repeat)
    assert isinstance(index, CompiledIndex)
    report(
        "full build of 1M indicators (from ListedIndicator objects)", f"{build_s:.2f} s", "< 3 s"
    )
    items.clear()
    gc.collect()
    changes: list[ListedIndicator | Removal] = []
    for n in range(2000):
        if n % 4 == 3:
            changes.append(Removal(1 + n * 37, 2_000_000 + n))
        else:
            changes.append(
                ListedIndicator(
                    id=(1 + n * 53) if n % 2 else 2_000_000 + n,
                    indicator_type=IndicatorType.DOMAIN_NAME,
                    value=f"changed-{n}.example.net",
                    action=Action.BLOCK,
                    sequence=2_000_000 + n,
                )
            )
    version = index
    samples = []
    for change in changes:
        start = time.perf_counter()
        version = version.apply([change])
        samples.append(time.perf_counter() - start)
    ordered = sorted(samples)
    report(
        "apply one change (2,000 in a row, overlay growing)",
        f"median {statistics.median(ordered) * 1e3:.3f} ms, p99 "
        f"{ordered[int(len(ordered) * 0.99)] * 1e3:.3f} ms, max {ordered[-1] * 1e3:.3f} ms",
        "< 1 ms",
    )
    first_s, _ = seconds(lambda: version.apply([changes[0]]).overlay, 5)
    report("  then first match of that version (compiles the overlay)", f"{first_s * 1e3:.1f} ms")
    compact_s, _ = seconds(version.compacted, 1)
    report("  compaction (overlay folded into a new base)", f"{compact_s:.2f} s")

    # -- hashes
    print("hash events (SHA-256 column, Arrow), 1% hits")
    brng = np.random.default_rng(SEED + 1)
    batches = [hash_batch(brng, listed, min(total, BATCH)) for _ in range(nbatches)]
    events = sum(b.num_rows for b in batches)
    ours, found = seconds(lambda: run_all(batches, index), repeat)
    report("match_batch (candidates + precedence per hit)", rate(events, ours), ">= 30M/s")
    report("  first run (every hit decided, cold decision cache)", rate(events, FIRST[-1]))
    report("  entries decided", f"{found:,}")
    table = index.base.exact[IndicatorType.FILE_SHA256]

    def lookups() -> int:
        out = 0
        for b in batches:
            column = b.column("sha256")
            keys = np.ndarray(
                (len(column),), "<u8", buffer=column.buffers()[1], offset=0, strides=(32,)
            )
            last = np.ndarray(
                (len(column),), "<u8", buffer=column.buffers()[1], offset=24, strides=(32,)
            )
            query = np.frombuffer(column.buffers()[1], dtype=np.uint8).reshape(-1, 32)
            out += len(table.find(keys ^ last, query)[0])
        return out

    lookup_s, _ = seconds(lookups, repeat)
    report("  lookup only (ExactTable.find, no precedence)", rate(events, lookup_s))
    duck_s = duckdb_hashes(batches, listed, repeat)
    if duck_s:
        report("DuckDB semi-join, same Arrow columns (row ids of hits)", rate(events, duck_s))
        report("  ratio match_batch / DuckDB", f"{duck_s / ours:.1f}x faster", ">= 1x")
    del batches
    gc.collect()

    # -- domains
    print("domain events (domain column only, all distinct names), 1% hits")
    drng = np.random.default_rng(SEED + 2)
    batches = []
    for _ in range(nbatches):
        column = domain_column(drng, listed, min(total, BATCH))
        batches.append(_batch({"domain": column}, len(column)))
    ours, found = seconds(lambda: run_all(batches, index), repeat)
    report("match_batch, domain path", rate(events, ours), ">= 10M/s")
    report("  first run (cold decision cache)", rate(events, FIRST[-1]))
    report("  entries decided", f"{found:,}")
    python_loop_baseline(index, batches[0])
    duckdb_domains(batches[0], listed)
    del batches
    gc.collect()

    # -- mixed
    print("mixed events (files, addresses with CIDR, domains, SNI, URLs; groups), ~1% hits")
    mrng = np.random.default_rng(SEED + 3)
    batches = [mixed_batch(mrng, listed, min(total, BATCH)) for _ in range(nbatches)]
    ours, found = seconds(lambda: run_all(batches, index), repeat)
    report("match_batch, full semantics and precedence", rate(events, ours), ">= 10M/s")
    report("  first run (cold decision cache)", rate(events, FIRST[-1]))
    report("  entries decided", f"{found:,} ({found / events:.2%} of events)")

    # -- single event
    print("single event (agent: decide_event)")
    sample = batches[0].slice(0, 200_000).to_pylist()
    made = [_event(row) for row in sample]
    decided = [bool(decide_event(index, e)) for e in made]
    hits = [e for e, hit in zip(made, decided, strict=True) if hit]
    misses = [e for e, hit in zip(made, decided, strict=True) if not hit][:20_000]
    for name, group in (
        ("mixed (1% hits)", made[:20_000]),
        ("hits only", hits[:2_000]),
        ("misses only", misses),
    ):
        samples = []
        for event in group:
            start = time.perf_counter_ns()
            decide_event(index, event)
            samples.append(time.perf_counter_ns() - start)
        samples.sort()
        report(
            f"decide_event, {name}",
            f"median {statistics.median(samples) / 1000:.2f} us, p99 "
            f"{samples[int(len(samples) * 0.99)] / 1000:.2f} us (n={len(samples)})",
            "< 5 us",
        )


def _event(row: dict[str, object]) -> TelemetryEvent:
    def hexed(name: str) -> str | None:
        value = row[name]
        return value.hex() if isinstance(value, bytes) else None

    ip = row["remote_ip"]
    address = None
    if isinstance(ip, bytes):
        address = ".".join(str(b) for b in ip[12:]) if ip[:12] == b"\0" * 10 + b"\xff\xff" else None
    return TelemetryEvent(
        time=datetime(2030, 1, 1, tzinfo=UTC),
        kind=EventKind.FILE if row["sha256"] else EventKind.NETWORK,
        device_id="d",
        sha256=hexed("sha256"),
        sha1=hexed("sha1"),
        md5=hexed("md5"),
        signature_valid=row["signature_valid"],  # type: ignore[arg-type]
        signer_trusted=row["signer_trusted"],  # type: ignore[arg-type]
        remote_ip=address,
        domain=row["domain"],  # type: ignore[arg-type]
        url=row["url"],  # type: ignore[arg-type]
        sni=row["sni"],  # type: ignore[arg-type]
        device_group=row["device_group"],  # type: ignore[arg-type]
    )


def duckdb_hashes(batches: list[pa.RecordBatch], listed: Listed, repeat: int) -> float | None:
    try:
        import duckdb
    except ImportError:
        report("DuckDB", "not installed")
        return None
    con = duckdb.connect()
    ind = pa.table({"v": _fixed(np.frombuffer(listed.sha256, dtype=np.uint8).copy(), 32)})
    ind = ind.cast(pa.schema([("v", pa.binary())]))
    con.register("ind", ind)
    tables = [
        pa.table({"row": np.arange(b.num_rows), "sha256": b.column("sha256").cast(pa.binary())})
        for b in batches
    ]

    def semi() -> int:
        out = 0
        for t in tables:
            con.register("ev", t)
            out += len(
                con.execute("SELECT row FROM ev SEMI JOIN ind ON ev.sha256 = ind.v").fetchnumpy()[
                    "row"
                ]
            )
        return out

    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    report("  (DuckDB threads)", str(threads))
    elapsed, _ = seconds(semi, repeat)
    return elapsed


def python_loop_baseline(index: CompiledIndex, batch: pa.RecordBatch) -> None:
    names = batch.column("domain").to_pylist()
    table = index.base.domains
    assert table is not None
    lookup = set(table.names())  # the agent's tables keep no dict: one made for the baseline

    def loop() -> int:
        found = 0
        for name in names:
            if name in lookup:
                found += 1
            dot = name.find(".")
            while dot >= 0:
                if name[dot + 1 :] in lookup:
                    found += 1
                dot = name.find(".", dot + 1)
        return found

    elapsed, _ = seconds(loop, 3)
    report("baseline: per-event Python loop (dict, suffix walk)", rate(len(names), elapsed))


def duckdb_domains(batch: pa.RecordBatch, listed: Listed) -> None:
    try:
        import duckdb
    except ImportError:
        return
    con = duckdb.connect()
    con.register("dom", pa.table({"v": pa.array(listed.domains)}))
    con.register(
        "ev", pa.table({"row": np.arange(batch.num_rows), "domain": batch.column("domain")})
    )
    query = """
        WITH parts AS (SELECT row AS r, string_split(domain, '.') AS l FROM ev),
        suffixes AS (
            SELECT r, array_to_string(l[k:], '.') AS s
            FROM parts, range(1, len(l)) AS t(k)
        )
        SELECT DISTINCT r FROM suffixes SEMI JOIN dom ON suffixes.s = dom.v
    """
    elapsed, _ = seconds(lambda: con.execute(query).fetchall(), 3)
    report("baseline: DuckDB suffix explode + semi-join", rate(batch.num_rows, elapsed))


if __name__ == "__main__":
    main()
