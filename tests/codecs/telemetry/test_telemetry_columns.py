"""Properties of the columnar conversions in iocd.matching.columns."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from iocd.codecs.telemetry import read_records
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.matching.columns import (
    EVENT_SCHEMA,
    batch_to_events,
    bytes_to_ip,
    events_to_batch,
    hex_to_fixed_binary,
    ip_text_to_binary,
    ip_to_bytes,
)


def _hex(width: int) -> st.SearchStrategy[str | None]:
    return st.none() | st.binary(min_size=width, max_size=width).map(bytes.hex)


def _ip(value: int) -> str:
    address = ipaddress.ip_address(value) if value < 2**32 else ipaddress.IPv6Address(value)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


ips = st.none() | st.integers(0, 2**32 - 1).map(_ip) | st.integers(2**32, 2**128 - 1).map(_ip)
texts = st.none() | st.text(min_size=1, max_size=20)
times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
events = st.builds(
    TelemetryEvent,
    time=times,
    kind=st.sampled_from(list(EventKind)),
    device_id=st.text(max_size=10),
    device_name=st.text(max_size=10),
    sha256=_hex(32),
    sha1=_hex(20),
    md5=_hex(16),
    signer_thumbprint=_hex(20),
    signature_valid=st.none() | st.booleans(),
    signer_trusted=st.none() | st.booleans(),
    file_name=texts,
    file_path=texts,
    remote_ip=ips,
    remote_port=st.none() | st.integers(0, 65535),
    domain=texts,
    url=texts,
    sni=texts,
    source=st.sampled_from(["native", "sysmon", "zeek"]),
    device_group=st.none() | st.text(max_size=5),
)


@given(st.lists(events, max_size=20))
def test_events_to_batch_round_trips(items: list[TelemetryEvent]) -> None:
    batch = events_to_batch(items)
    assert batch.schema == EVENT_SCHEMA
    assert batch_to_events(batch) == items


@given(ips.filter(lambda ip: ip is not None))
def test_ip_bytes_round_trip(text: str) -> None:
    assert bytes_to_ip(ip_to_bytes(text)) == text
    assert ip_text_to_binary(pa.array([text])).to_pylist() == [ip_to_bytes(text)]


@given(st.lists(st.none() | st.text(max_size=8) | ips, max_size=30))
def test_vectorised_ip_conversion_agrees_with_the_scalar_one(values: list[str | None]) -> None:
    def scalar(value: str | None) -> bytes | None:
        if value is None:
            return None
        try:
            return ip_to_bytes(value.strip().removeprefix("[").removesuffix("]"))
        except ValueError:
            return None

    assert ip_text_to_binary(pa.array(values, pa.string())).to_pylist() == [
        scalar(v) for v in values
    ]


@given(st.lists(st.none() | st.text(alphabet="0123456789abcdefABCDEFxz", max_size=42)))
def test_vectorised_hex_conversion_agrees_with_the_scalar_one(values: list[str | None]) -> None:
    def scalar(value: str | None) -> bytes | None:
        if value is None or len(value) != 40:
            return None
        try:
            return bytes.fromhex(value)
        except ValueError:
            return None

    array = pa.array(values, pa.string())
    assert hex_to_fixed_binary(array, 20).to_pylist() == [scalar(v) for v in values]
    if len(values) > 1:  # a slice keeps its offset
        assert hex_to_fixed_binary(array.slice(1), 20).to_pylist() == [
            scalar(v) for v in values[1:]
        ]


@given(st.lists(events, min_size=1, max_size=10))
def test_native_ndjson_reads_back_what_was_written(items: list[TelemetryEvent]) -> None:
    canonical = [
        TelemetryEvent(
            time=e.time,
            kind=e.kind,
            device_id=e.device_id or "d",
            device_name=e.device_name,
            sha256=e.sha256,
            md5=e.md5,
            remote_ip=e.remote_ip,
            remote_port=e.remote_port,
            source=e.source,
        )
        for e in items
    ]
    lines = []
    for e in canonical:
        row = {name: getattr(e, name) for name in e.__slots__}
        row["time"] = e.time.isoformat()
        lines.append(json.dumps(row))
    body = ("\n".join(lines) + "\n").encode()
    assert [x for b in read_records(body) for x in batch_to_events(b)] == canonical


@given(
    st.lists(
        st.none() | st.text(alphabet="0123456789abcdefABCDEF", min_size=40, max_size=40),
        min_size=1,
    ),
    st.integers(0, 39),
    st.sampled_from(" xé\x00"),
)
def test_digests_lying_end_to_end_are_decoded_at_once_and_a_bad_digit_still_nulls_its_row(
    values: list[str | None], at: int, bad: str
) -> None:
    good = [None if v is None else bytes.fromhex(v) for v in values]
    assert hex_to_fixed_binary(pa.array(values, pa.string()), 20).to_pylist() == good
    first = next((n for n, v in enumerate(values) if v is not None), None)
    if first is not None:
        spoiled = list(values)
        text = spoiled[first]
        assert text is not None
        spoiled[first] = text[:at] + bad + text[at + 1 :]
        expected = [None if n == first else g for n, g in enumerate(good)]
        assert hex_to_fixed_binary(pa.array(spoiled, pa.string()), 20).to_pylist() == expected


@given(st.lists(st.none() | ips | st.sampled_from([" 1.2.3.4", "01.2.3.4", "[::1]"]), max_size=12))
def test_ip_conversion_of_a_slice_or_of_chunks_agrees_with_the_whole(
    values: list[str | None],
) -> None:
    whole = ip_text_to_binary(pa.array(values, pa.string())).to_pylist()
    if len(values) > 1:
        assert ip_text_to_binary(pa.array(values, pa.string()).slice(1)).to_pylist() == whole[1:]
        halves = pa.chunked_array([values[:1], values[1:]], pa.string())
        assert ip_text_to_binary(halves).to_pylist() == whole
