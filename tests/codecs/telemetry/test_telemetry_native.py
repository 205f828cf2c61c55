"""The native format: NDJSON, CSV and Parquet round trips, gzip, detection, bad input."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from telemetry_golden import GOLDEN

from iocd.codecs import telemetry
from iocd.codecs.telemetry import (
    ReadReport,
    TelemetryFormat,
    TelemetryReadError,
    detect_format,
    native,
    read_records,
    read_telemetry,
)
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.matching.columns import EVENT_SCHEMA, batch_to_events, events_to_batch

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
EVENTS = [
    TelemetryEvent(
        time=T0,
        kind=EventKind.PROCESS,
        device_id="dev-1",
        device_name="pc1",
        sha256="ab" * 32,
        sha1="cd" * 20,
        md5="ef" * 16,
        signer_thumbprint="01" * 20,
        signature_valid=True,
        signer_trusted=False,
        file_name="a.exe",
        file_path="C:\\a.exe",
    ),
    TelemetryEvent(
        time=T0,
        kind=EventKind.NETWORK,
        device_id="dev-2",
        remote_ip="10.1.2.3",
        remote_port=443,
        domain="example.com",
        url="https://example.com/x",
        sni="example.com",
    ),
    TelemetryEvent(time=T0, kind=EventKind.DNS, device_id="dev-3", remote_ip="2001:db8::1"),
]


def _row(event: TelemetryEvent) -> dict[str, object]:
    row = {name: getattr(event, name) for name in event.__slots__}
    row["time"] = event.time.isoformat().replace("+00:00", "Z")
    row["kind"] = event.kind.value
    return {key: value for key, value in row.items() if value is not None}


def _ndjson(events: list[TelemetryEvent]) -> bytes:
    return "".join(json.dumps(_row(e)) + "\n" for e in events).encode()


def _read(paths: list[Path], **options: object) -> tuple[list[TelemetryEvent], ReadReport]:
    report = ReadReport()
    batches = list(read_telemetry(paths, report=report, **options))  # type: ignore[arg-type]
    assert all(batch.schema == EVENT_SCHEMA for batch in batches)
    return [e for batch in batches for e in batch_to_events(batch)], report


def test_ndjson_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_bytes(_ndjson(EVENTS))
    assert detect_format(path) is TelemetryFormat.NATIVE
    events, report = _read([path])
    assert events == EVENTS
    assert report.events == 3 and report.skipped == 0


def test_gzip_is_recognised_by_magic_bytes(tmp_path: Path) -> None:
    path = tmp_path / "events.data"  # no telling suffix
    path.write_bytes(gzip.compress(_ndjson(EVENTS)))
    assert _read([path])[0] == EVENTS
    body = gzip.compress(json.dumps([_row(e) for e in EVENTS]).encode())
    assert [e for b in read_records(body) for e in batch_to_events(b)] == EVENTS


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=EVENT_SCHEMA.names)
        writer.writeheader()
        for event in EVENTS:
            writer.writerow(_row(event))
    assert _read([path], fmt=TelemetryFormat.NATIVE)[0] == EVENTS


def test_parquet_round_trip_columnar_and_text(tmp_path: Path) -> None:
    columnar = tmp_path / "columnar.parquet"
    pq.write_table(pa.Table.from_batches([events_to_batch(EVENTS)]), columnar)
    text = tmp_path / "text.parquet"
    rows = [{name: _row(e).get(name) for name in EVENT_SCHEMA.names} for e in EVENTS]
    pq.write_table(pa.Table.from_pylist(rows), text)
    for path in (columnar, text):
        assert detect_format(path) is TelemetryFormat.NATIVE
        assert _read([path])[0] == EVENTS


def test_fast_path_is_lenient_about_values(tmp_path: Path) -> None:
    rows = [
        {"time": "2024-05-01T12:00:00Z", "kind": "file", "device_id": "d", "sha256": "xyz"},
        {"time": "2024-05-01T12:00:00Z", "kind": "dns", "device_id": "d", "domain": "Ex.COM."},
        {"time": "2024-05-01T12:00:00Z", "kind": "network", "device_id": "d", "remote_ip": "no"},
        {"time": "2024-05-01T12:00:00Z", "kind": "weird", "device_id": "d"},
        {
            "time": "2024-05-01T12:00:00.1234567Z",
            "kind": "tls",
            "device_id": "d",
            "sni": "bücher.de",
        },
    ]
    path = tmp_path / "e.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    events, report = _read([path])
    assert [e.kind for e in events] == ["file", "dns", "network", "tls"]
    assert events[0].sha256 is None and events[2].remote_ip is None
    assert events[1].domain == "ex.com"
    assert events[3].sni == "xn--bcher-kva.de"
    assert events[3].time.microsecond == 123456
    assert report.skipped == 1


def test_a_broken_line_is_skipped_and_reported_with_its_number(tmp_path: Path) -> None:
    lines = _ndjson(EVENTS).splitlines(keepends=True)
    path = tmp_path / "e.ndjson"
    path.write_bytes(lines[0] + b"{not json\n" + lines[1] + b'{"time": "2024-05-01T12:00')
    events, report = _read([path])
    assert events == EVENTS[:2]
    assert report.skipped == 2
    assert report.samples[0].startswith(f"{path}:2: not valid JSON")
    assert report.samples[1].startswith(f"{path}:4: not valid JSON")


def test_whole_inputs_that_cannot_be_read_raise_naming_the_input(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps([_row(e) for e in EVENTS])[:-20], encoding="utf-8")
    with pytest.raises(TelemetryReadError, match=r"cut\.json:1: not valid JSON"):
        list(read_telemetry([cut]))
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(_ndjson(EVENTS))[:30])
    with pytest.raises(TelemetryReadError, match=r"broken\.gz: broken gzip"):
        list(read_telemetry([broken]))
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x01\x02 nothing here")
    with pytest.raises(TelemetryReadError, match=r"garbage\.bin"):
        list(read_telemetry([garbage]))
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text('{"a": 1}\n', encoding="utf-8")
    with pytest.raises(TelemetryReadError, match="cannot tell the telemetry format"):
        detect_format(unknown)
    with pytest.raises(TelemetryReadError, match=r"missing\.jsonl: cannot read"):
        list(read_telemetry([tmp_path / "missing.jsonl"]))
    no_footer = tmp_path / "cut.parquet"
    no_footer.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(TelemetryReadError, match=r"cut\.parquet: broken Parquet"):
        list(read_telemetry([no_footer]))


@pytest.mark.parametrize(
    ("file", "fmt"),
    [
        ("sysmon_flat.jsonl", TelemetryFormat.SYSMON),
        ("sysmon_syslog.jsonl", TelemetryFormat.SYSMON),
        ("zeek_tsv_dns.log", TelemetryFormat.ZEEK),
        ("zeek_json_ssl.json", TelemetryFormat.ZEEK),
        ("ecs_santa.json", TelemetryFormat.ECS),
        ("defender_advanced_hunting.csv", TelemetryFormat.DEFENDER),
    ],
)
def test_detect_format_and_gzip_for_every_reader(tmp_path: Path, file: str, fmt: str) -> None:
    source = GOLDEN / file
    packed = tmp_path / (file + ".gz")
    packed.write_bytes(gzip.compress(source.read_bytes()))
    assert detect_format(source) is fmt
    assert detect_format(packed) is fmt
    plain = [e for b in read_telemetry([source]) for e in batch_to_events(b)]
    assert plain == [e for b in read_telemetry([packed]) for e in batch_to_events(b)]


def test_read_records_takes_a_json_array_of_a_foreign_format() -> None:
    body = (GOLDEN / "ecs_packetbeat_http_basic_auth.json").read_bytes()
    report = ReadReport()
    events = [e for b in read_records(body, report=report) for e in batch_to_events(b)]
    assert [e.kind for e in events] == [EventKind.DNS, EventKind.HTTP]
    assert report.events == 2


def test_batches_respect_batch_size(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_bytes(_ndjson(EVENTS * 5))
    sizes = [b.num_rows for b in read_telemetry([path], batch_size=4)]
    assert sizes == [4, 4, 4, 3]
    sysmon = [b.num_rows for b in read_telemetry([GOLDEN / "sysmon_flat.jsonl"], batch_size=5)]
    assert max(sizes) <= 5 or max(sysmon) <= 5


def test_parquet_of_a_foreign_format_is_read_record_by_record(tmp_path: Path) -> None:
    rows = [
        json.loads(line) for line in (GOLDEN / "defender_m365d.jsonl").read_bytes().splitlines()
    ]
    path = tmp_path / "m365.parquet"
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{k: str(v) for k, v in r.items()} for r in rows]), buffer)
    path.write_bytes(buffer.getvalue())
    assert detect_format(path) is TelemetryFormat.DEFENDER
    report = ReadReport()
    assert list(read_telemetry([path], report=report)) == []
    assert report.skipped == len(rows)


def test_json_lines_in_pieces_read_as_one_and_number_lines_across_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _ndjson(EVENTS * 4).splitlines(keepends=True)
    path = tmp_path / "e.ndjson"
    path.write_bytes(b"".join([*lines[:5], b"{not json\n", *lines[5:]]))
    whole = ReadReport()
    expected = [e for b in read_telemetry([path], report=whole) for e in batch_to_events(b)]
    monkeypatch.setattr(native, "PIECE_BYTES", len(lines[0]) * 2)  # pieces of about 3 lines
    report = ReadReport()
    pieces = list(read_telemetry([path], report=report))
    assert len(pieces) > 2
    assert [e for b in pieces for e in batch_to_events(b)] == expected == EVENTS * 4
    assert report.samples == whole.samples
    assert report.samples[0].startswith(f"{path}:6: not valid JSON")


@pytest.mark.parametrize("file", ["sysmon_flat.jsonl", "sysmon_syslog.jsonl", "zeek_json_ssl.json"])
def test_json_lines_formats_are_told_from_the_first_lines_and_every_line_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str
) -> None:
    source = GOLDEN / file
    whole = [e for b in read_telemetry([source]) for e in batch_to_events(b)]
    fmt = detect_format(source)
    monkeypatch.setattr(telemetry, "_SNIFF_BYTES", 1)  # the head is the first line or two
    assert detect_format(source) is fmt
    assert [e for b in read_telemetry([source]) for e in batch_to_events(b)] == whole
