"""One contract suite over every TelemetryStore, plus what only the Parquet store can get wrong
(crashes, leftovers and corrupt files on disk)."""

from __future__ import annotations

import ipaddress
import itertools
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType
from iocd.errors import InvalidInput
from iocd.matching.columns import EVENT_SCHEMA
from iocd.services.telemetry_port import TelemetryStore
from iocd.store import telemetry as parquet_module
from iocd.store.memory_telemetry import MemoryTelemetryStore
from iocd.store.telemetry import ParquetTelemetryStore
from iocd.store.telemetry_hunt import ip_bytes

T = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
DAY = T.date()
SHA256 = "ab" * 32
SHA1 = "cd" * 20
MD5 = "ef" * 16
THUMB = "12" * 20
_ids = itertools.count(1)


def row(name: str, when: datetime = T, **fields: Any) -> dict[str, Any]:
    """One event; `name` goes into device_id so tests can tell rows apart."""
    out: dict[str, Any] = {"time": when, "kind": "network", "device_id": name, **fields}
    for column in ("sha256", "sha1", "md5", "signer_thumbprint"):
        if isinstance(out.get(column), str):
            out[column] = bytes.fromhex(out[column])
    if isinstance(out.get("remote_ip"), str):
        out["remote_ip"] = ip_bytes(ipaddress.ip_address(out["remote_ip"]))
    return out


def events(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=EVENT_SCHEMA)


def listed(kind: IndicatorType, value: str) -> ListedIndicator:
    return ListedIndicator(next(_ids), kind, value, Action.BLOCK)


def names(batches: Iterator[pa.RecordBatch]) -> set[str]:
    found = list(batches)
    assert all(batch.schema.equals(EVENT_SCHEMA) for batch in found)
    return {name for batch in found for name in batch.column("device_id").to_pylist()}


@pytest.fixture(params=["memory", "parquet"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TelemetryStore:
    if request.param == "memory":
        return MemoryTelemetryStore()
    return ParquetTelemetryStore(tmp_path / "telemetry")


# -- appending and the cursor -----------------------------------------------------------------


def test_append_is_listed_and_read_back(store: TelemetryStore) -> None:
    batch = events(row("a", sha256=SHA256), row("b", domain="example.com"))
    info = store.append(batch)
    assert (info.rows, info.days) == (2, (DAY,))
    assert store.segments_after(None, 10) == [info]
    assert store.read_segment(info.segment_id).equals(batch)
    stats = store.stats()
    assert (stats.rows, stats.days, stats.segments) == (2, 1, 1)
    assert stats.oldest_day == stats.newest_day == DAY


def test_record_batch_and_any_column_order_are_accepted(store: TelemetryStore) -> None:
    batch = events(row("a"), row("b"))
    reordered = batch.select(list(reversed(EVENT_SCHEMA.names)))
    store.append(reordered.to_batches()[0])
    (info,) = store.segments_after(None, 5)
    assert store.read_segment(info.segment_id).equals(batch)


def test_cursor_lists_segments_in_append_order(store: TelemetryStore) -> None:
    appended = [store.append(events(row(f"e{i}"))) for i in range(5)]
    first = store.segments_after(None, 3)
    assert first == appended[:3]
    rest = store.segments_after(first[-1].cursor, 10)
    assert rest == appended[3:]
    assert store.segments_after(rest[-1].cursor, 10) == []
    assert store.segments_after(None, 0) == []
    ids = [info.segment_id for info in appended]
    assert ids == sorted(ids)


def test_events_are_partitioned_by_utc_day_across_midnight(store: TelemetryStore) -> None:
    midnight = datetime(2030, 1, 11, tzinfo=UTC)
    batch = events(
        row("before", midnight - timedelta(microseconds=1)),
        row("after", midnight),
        row("later", midnight + timedelta(hours=30)),
    )
    info = store.append(batch)
    assert info.days == (date(2030, 1, 10), date(2030, 1, 11), date(2030, 1, 12))
    assert store.stats().days == 3
    assert store.read_segment(info.segment_id).column("device_id").to_pylist() == [
        "before",
        "after",
        "later",
    ]


def test_empty_append_stores_nothing(store: TelemetryStore) -> None:
    info = store.append(events())
    assert (info.rows, info.days) == (0, ())
    assert store.segments_after(None, 10) == []
    assert store.read_segment(info.segment_id).num_rows == 0


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda t: t.drop_columns(["url"]), "telemetry", "missing ['url']"),
        (lambda t: t.append_column("extra", pa.array([1])), "telemetry", "unexpected ['extra']"),
        (
            lambda t: t.set_column(4, "sha256", pa.array([b"x" * 32], pa.binary())),
            "telemetry.sha256",
            "expected fixed_size_binary[32]",
        ),
        (
            lambda t: t.set_column(0, "time", pa.array([T], pa.timestamp("ns", tz="UTC"))),
            "telemetry.time",
            "expected timestamp[us, tz=UTC]",
        ),
        (
            lambda t: t.set_column(
                2, pa.field("device_id", pa.string()), pa.array([None], pa.string())
            ),
            "telemetry.device_id",
            "must not be null",
        ),
    ],
)
def test_a_batch_not_matching_the_schema_is_refused(
    store: TelemetryStore, change: Callable[[pa.Table], pa.Table], field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        store.append(change(events(row("a"))))
    assert caught.value.field == field
    assert words in caught.value.reason
    assert store.stats().rows == 0
    assert store.segments_after(None, 10) == []


def test_something_else_than_arrow_is_refused(store: TelemetryStore) -> None:
    with pytest.raises(InvalidInput, match="expected an Arrow table"):
        store.append([{"time": T}])


@pytest.mark.parametrize("text", ["", "abc", "-1", "1.5"])
def test_malformed_cursor_and_segment_id_are_refused(store: TelemetryStore, text: str) -> None:
    with pytest.raises(InvalidInput):
        store.segments_after(text, 10)
    with pytest.raises(InvalidInput):
        store.read_segment(text)


def test_naive_times_are_refused(store: TelemetryStore) -> None:
    naive = datetime(2030, 1, 1)
    with pytest.raises(InvalidInput):
        list(store.hunt([listed(IndicatorType.FILE_MD5, MD5)], naive))
    with pytest.raises(InvalidInput):
        store.purge(naive)


# -- retro-hunt -------------------------------------------------------------------------------


@pytest.fixture(params=["appended", "compacted"])
def hunted(
    request: pytest.FixtureRequest, store: TelemetryStore, monkeypatch: pytest.MonkeyPatch
) -> TelemetryStore:
    """Events of every kind; compacted into row groups of 3 rows, so that searches must also
    get the skipping of row groups by their statistics right."""
    monkeypatch.setattr(parquet_module, "ROW_GROUP_ROWS", 3)
    store.append(
        events(
            row("sha256", sha256=SHA256, kind="process"),
            row("sha1", sha1=SHA1, kind="process"),
            row("md5", md5=MD5, kind="process"),
            row("thumb", signer_thumbprint=THUMB, kind="image_load"),
            row("other-hash", sha256="00" * 32, sha1="00" * 20, md5="00" * 16),
            row("ip", remote_ip="203.0.113.7"),
            row("ip-in-block", remote_ip="198.51.100.200"),
            row("ip-below-block", remote_ip="198.51.99.255"),
            row("ip-above-block", remote_ip="198.51.101.0"),
            row("ipv6", remote_ip="2001:db8::1"),
            row("ipv6-in-block", remote_ip="2001:db8:0:1::99"),
            row("ipv6-other", remote_ip="2001:db9::1"),
        )
    )
    store.append(
        events(
            row("domain", domain="evil.example", kind="dns"),
            row("subdomain", domain="a.b.evil.example", kind="dns"),
            row("sni", sni="cdn.evil.example", kind="tls"),
            row("lookalike", domain="notevil.example", kind="dns"),
            row("parent", domain="example", kind="dns"),
            row("url", url="https://bad.example/dl/x.exe", kind="http"),
            row("url-below", url="https://bad.example/dl/x.exe/more?q=1", kind="http"),
            row("url-query", url="https://bad.example/dl/x.exe?id=3", kind="http"),
            row("url-other-path", url="https://bad.example/other", kind="http"),
            row("url-other-host", url="https://good.example/dl/x.exe", kind="http"),
        )
    )
    if request.param == "compacted":
        store.compact(DAY)
        if isinstance(store, ParquetTelemetryStore):
            assert store.stats().files == 1
    return store


SINCE = T - timedelta(days=30)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (IndicatorType.FILE_SHA256, SHA256, {"sha256"}),
        (IndicatorType.FILE_SHA1, SHA1, {"sha1"}),
        (IndicatorType.FILE_MD5, MD5, {"md5"}),
        (IndicatorType.CERTIFICATE_THUMBPRINT, THUMB, {"thumb"}),
        (IndicatorType.IP_ADDRESS, "203.0.113.7", {"ip"}),
        (IndicatorType.IP_ADDRESS, "198.51.100.0/24", {"ip-in-block"}),
        (IndicatorType.IP_ADDRESS, "2001:db8::1", {"ipv6"}),
        (IndicatorType.IP_ADDRESS, "2001:db8::/48", {"ipv6", "ipv6-in-block"}),
        (
            IndicatorType.IP_ADDRESS,
            "0.0.0.0/0",
            {"ip", "ip-in-block", "ip-below-block"} | {"ip-above-block"},
        ),
        (IndicatorType.DOMAIN_NAME, "evil.example", {"domain", "subdomain", "sni"}),
        (IndicatorType.DOMAIN_NAME, "b.evil.example", {"subdomain"}),
        (
            IndicatorType.URL,
            "https://bad.example/dl/x.exe",
            {"url", "url-below", "url-query"},
        ),
        (IndicatorType.URL, "https://bad.example/dl/x.exe?id=3", {"url", "url-below", "url-query"}),
    ],
)
def test_hunt_finds_each_indicator_type(
    hunted: TelemetryStore, kind: IndicatorType, value: str, expected: set[str]
) -> None:
    assert names(hunted.hunt([listed(kind, value)], SINCE)) == expected


def test_hunt_with_several_indicators_finds_the_union(hunted: TelemetryStore) -> None:
    indicators = [
        listed(IndicatorType.FILE_MD5, MD5),
        listed(IndicatorType.FILE_MD5, "11" * 16),
        listed(IndicatorType.IP_ADDRESS, "198.51.100.0/24"),
        listed(IndicatorType.IP_ADDRESS, "203.0.113.7"),
        listed(IndicatorType.IP_ADDRESS, "192.0.2.1"),
        listed(IndicatorType.DOMAIN_NAME, "b.evil.example"),
    ]
    assert names(hunted.hunt(indicators, SINCE)) == {"md5", "ip-in-block", "ip", "subdomain"}


def test_hunt_with_many_names_and_urls_uses_set_lookups(hunted: TelemetryStore) -> None:
    domains = [listed(IndicatorType.DOMAIN_NAME, f"d{i}.test") for i in range(40)]
    domains.append(listed(IndicatorType.DOMAIN_NAME, "evil.example"))
    assert names(hunted.hunt(domains, SINCE)) == {"domain", "subdomain", "sni"}
    urls = [listed(IndicatorType.URL, f"https://u{i}.test/x") for i in range(40)]
    urls.append(listed(IndicatorType.URL, "https://bad.example/dl/x.exe"))
    found = names(hunted.hunt(urls, SINCE))
    # Many URLs are looked up by origin: a superset the full matcher narrows down.
    assert {"url", "url-below", "url-query"} <= found
    assert "url-other-host" not in found


def test_hunt_without_indicators_or_window_finds_nothing(hunted: TelemetryStore) -> None:
    assert names(hunted.hunt([], SINCE)) == set()
    md5 = [listed(IndicatorType.FILE_MD5, MD5)]
    assert names(hunted.hunt(md5, T, T)) == set()
    assert names(hunted.hunt(md5, T + timedelta(seconds=1))) == set()


def test_hunt_respects_since_and_until(store: TelemetryStore) -> None:
    store.append(
        events(*(row(f"day{d}", T - timedelta(days=d), md5=MD5) for d in (0, 1, 2, 3, 40)))
    )
    md5 = [listed(IndicatorType.FILE_MD5, MD5)]
    assert names(store.hunt(md5, T - timedelta(days=30))) == {"day0", "day1", "day2", "day3"}
    assert names(store.hunt(md5, T - timedelta(days=2), T)) == {"day1", "day2"}
    # to the microsecond, inside one day partition
    exact = T - timedelta(days=1)
    assert names(store.hunt(md5, exact, exact + timedelta(microseconds=1))) == {"day1"}
    assert names(store.hunt(md5, exact + timedelta(microseconds=1), T)) == set()


def test_malformed_indicator_value_is_refused(store: TelemetryStore) -> None:
    with pytest.raises(InvalidInput, match="FileMd5"):
        list(store.hunt([listed(IndicatorType.FILE_MD5, "not hex")], SINCE))


# -- retention and compaction -----------------------------------------------------------------


def test_purge_drops_whole_days_before_the_cut_off(store: TelemetryStore) -> None:
    old = store.append(
        events(row("old", T - timedelta(days=40)), row("old2", T - timedelta(days=40)))
    )
    mixed = store.append(events(row("mixed-old", T - timedelta(days=31)), row("mixed-new", T)))
    new = store.append(events(row("new", T)))
    cut_off = T - timedelta(days=30)
    assert store.purge(cut_off) == 3
    assert store.purge(cut_off) == 0
    assert [s.segment_id for s in store.segments_after(None, 10)] == [
        mixed.segment_id,
        new.segment_id,
    ]
    assert store.read_segment(old.segment_id).num_rows == 0
    assert store.read_segment(mixed.segment_id).column("device_id").to_pylist() == ["mixed-new"]
    assert store.segments_after(None, 10)[0].rows == 1
    assert store.stats().rows == 2
    # the day that holds the cut-off stays whole
    assert store.purge(T) == 0
    after = store.append(events(row("next", T)))
    assert after.segment_id > new.segment_id


def test_compact_keeps_rows_ids_and_cursor(store: TelemetryStore) -> None:
    appended = [
        store.append(events(row(f"e{i}", T + timedelta(minutes=i), md5=MD5))) for i in range(10)
    ]
    spanning = store.append(events(row("prev", T - timedelta(days=1)), row("e10", T)))
    before = store.segments_after(None, 100)
    contents = {s.segment_id: store.read_segment(s.segment_id) for s in before}
    files_before = store.stats().files
    store.compact(DAY)
    store.compact(DAY)  # nothing left to merge
    assert store.segments_after(None, 100) == before
    assert store.segments_after(appended[4].cursor, 3) == before[5:8]
    for segment, table in contents.items():  # compaction may reorder rows within a day
        assert store.read_segment(segment).sort_by("device_id").equals(table.sort_by("device_id"))
    assert store.stats().rows == 12
    assert store.stats().files <= files_before
    found = names(store.hunt([listed(IndicatorType.FILE_MD5, MD5)], SINCE))
    assert found == {f"e{i}" for i in range(10)}
    late = store.append(events(row("late", T, md5=MD5)))
    store.compact(DAY)
    assert store.read_segment(late.segment_id).column("device_id").to_pylist() == ["late"]
    assert store.read_segment(spanning.segment_id).num_rows == 2
    assert store.segments_after(spanning.cursor, 10) == [late]


def test_concurrent_appends_while_reading_and_hunting(store: TelemetryStore) -> None:
    writers, per_writer = 4, 25
    done = threading.Event()
    seen: list[str] = []
    errors: list[BaseException] = []
    md5 = [listed(IndicatorType.FILE_MD5, MD5)]

    def write(w: int) -> None:
        try:
            for i in range(per_writer):
                store.append(events(row(f"w{w}-{i}", T + timedelta(seconds=i), md5=MD5)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def scan() -> None:
        cursor: str | None = None
        try:
            while True:
                finished = done.is_set()
                listed_now = store.segments_after(cursor, 7)
                for info in listed_now:
                    seen.extend(store.read_segment(info.segment_id).column("device_id").to_pylist())
                    cursor = info.cursor
                names(store.hunt(md5, SINCE))
                store.compact(DAY)
                if finished and not listed_now:
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader = threading.Thread(target=scan)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()
    assert errors == []
    expected = {f"w{w}-{i}" for w in range(writers) for i in range(per_writer)}
    assert sorted(seen) == sorted(expected)  # each row exactly once
    assert names(store.hunt(md5, SINCE)) == expected


# -- the Parquet store on disk ----------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "telemetry"


def test_layout_on_disk_and_reopening(root: Path) -> None:
    store = ParquetTelemetryStore(root)
    first = store.append(events(row("a", T - timedelta(days=1)), row("b", T)))
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert files == [
        f"day=2030-01-09/s-{first.segment_id}-1.parquet",
        f"day=2030-01-10/s-{first.segment_id}-1.parquet",
    ]
    again = ParquetTelemetryStore(root)
    assert again.segments_after(None, 10) == [first]
    assert again.append(events(row("c"))).segment_id > first.segment_id
    metadata = pq.read_metadata(root / files[0])
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_a_failed_rename_leaves_no_file(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ParquetTelemetryStore(root)
    kept = store.append(events(row("kept")))

    def crash(source: object, target: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        store.append(events(row("lost")))
    monkeypatch.undo()
    assert [p.name for p in (root / "day=2030-01-10").iterdir()] == [
        f"s-{kept.segment_id}-1.parquet"
    ]
    assert store.segments_after(None, 10) == [kept]
    assert ParquetTelemetryStore(root).segments_after(None, 10) == [kept]


def test_a_multi_day_append_that_fails_half_way_is_undone(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ParquetTelemetryStore(root)
    real_replace = os.replace
    calls = []

    def second_fails(source: Any, target: Any) -> None:
        calls.append(target)
        if len(calls) == 2:
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(OSError, match="disk full"):
        store.append(events(row("a", T - timedelta(days=1)), row("b", T)))
    monkeypatch.undo()
    assert list(root.rglob("*.parquet")) == []
    assert list(root.rglob(".tmp-*")) == []
    later = store.append(events(row("c")))
    assert store.segments_after(None, 10) == [later]


def test_leftovers_of_a_killed_process_are_cleaned_up(root: Path) -> None:
    store = ParquetTelemetryStore(root)
    kept = store.append(events(row("kept", md5=MD5)))
    whole = next(root.rglob("*.parquet")).read_bytes()
    (root / "day=2030-01-10" / ".tmp-0123").write_bytes(whole[: len(whole) // 2])
    (root / ".tmp-4567").write_bytes(b"half a watermark")
    again = ParquetTelemetryStore(root)
    assert list(root.rglob(".tmp-*")) == []
    assert again.segments_after(None, 10) == [kept]
    assert names(again.hunt([listed(IndicatorType.FILE_MD5, MD5)], SINCE)) == {"kept"}


def test_a_corrupt_file_is_skipped_with_a_warning(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = ParquetTelemetryStore(root)
    kept = store.append(events(row("kept", md5=MD5)))
    folder = root / "day=2030-01-10"
    (folder / "s-000000000099-3.parquet").write_bytes(b"PAR1 this is not parquet")
    (folder / "c-000000000100-000000000101-2.parquet").write_bytes(b"garbage")
    (folder / "notes.txt").write_text("hello")
    with caplog.at_level(logging.WARNING, logger="iocd.store"):
        again = ParquetTelemetryStore(root)
        found = names(again.hunt([listed(IndicatorType.FILE_MD5, MD5)], SINCE))
        assert again.read_segment("000000000099").num_rows == 0
        again.compact(DAY)
    assert found == {"kept"}
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "s-000000000099-3.parquet" in messages
    assert "c-000000000100-000000000101-2.parquet" in messages
    assert "notes.txt" in messages
    assert again.read_segment(kept.segment_id).num_rows == 1
    # numbers a damaged file's name shows are never handed out again
    assert again.append(events(row("next"))).segment_id > "000000000101"


def test_a_crash_after_compaction_renamed_its_file_is_repaired(root: Path) -> None:
    store = ParquetTelemetryStore(root)
    for i in range(3):
        store.append(events(row(f"e{i}", md5=MD5)))
    backup = root.parent / "backup"
    shutil.copytree(root, backup)
    store.compact(DAY)
    (compacted,) = (root / "day=2030-01-10").iterdir()
    assert compacted.name == "c-000000000001-000000000003-3.parquet"
    # as if the process died before deleting the merged files
    for path in (backup / "day=2030-01-10").iterdir():
        shutil.copy(path, root / "day=2030-01-10" / path.name)
    again = ParquetTelemetryStore(root)
    assert [p.name for p in (root / "day=2030-01-10").iterdir()] == [compacted.name]
    assert again.stats().rows == 3
    assert names(again.hunt([listed(IndicatorType.FILE_MD5, MD5)], SINCE)) == {"e0", "e1", "e2"}
    assert again.read_segment("000000000002").column("device_id").to_pylist() == ["e1"]


def test_files_a_search_is_reading_outlive_compaction_and_purge(root: Path) -> None:
    store = ParquetTelemetryStore(root, workers=1)
    for i in range(4):
        store.append(events(row(f"e{i}", T - timedelta(days=i % 2), md5=MD5)))
    search = store.hunt([listed(IndicatorType.FILE_MD5, MD5)], SINCE)
    first = next(search)
    store.compact(DAY)
    store.purge(T - timedelta(hours=12))
    rest = list(search)
    assert len(first) + sum(len(b) for b in rest) == 4
    assert len(list(root.rglob("*.parquet"))) == 1  # deleted once the search ended
    assert not (root / "day=2030-01-09").exists()


def test_segment_numbers_survive_purging_everything(root: Path) -> None:
    store = ParquetTelemetryStore(root)
    last = [store.append(events(row(f"e{i}"))) for i in range(3)][-1]
    assert store.purge(T + timedelta(days=2)) == 3
    assert store.stats() == ParquetTelemetryStore(root).stats()
    again = ParquetTelemetryStore(root)
    assert again.segments_after(None, 10) == []
    assert again.append(events(row("next"))).segment_id > last.segment_id


def test_a_segment_is_listed_only_after_every_earlier_one_is_complete(root: Path) -> None:
    store = ParquetTelemetryStore(root)
    real_write = store._write
    started, release = threading.Event(), threading.Event()

    def slow_write(table: pa.Table, path: Path, metadata: Any = None) -> int:
        if table.column("device_id")[0].as_py() == "slow":
            started.set()
            release.wait(10)
        return real_write(table, path, metadata)

    store._write = slow_write  # type: ignore[method-assign]
    first = store.append(events(row("first")))
    slow = threading.Thread(target=store.append, args=(events(row("slow")),))
    slow.start()
    started.wait(10)
    fast = store.append(events(row("fast")))
    assert store.segments_after(None, 10) == [first]  # "fast" waits for "slow"
    release.set()
    slow.join()
    listed_after = store.segments_after(first.cursor, 10)
    assert [s.segment_id for s in listed_after][-1] == fast.segment_id
    assert len(listed_after) == 2
