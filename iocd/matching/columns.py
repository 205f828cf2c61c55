"""The columnar form of telemetry (Arrow): the shape every reader produces and every matcher reads.

Hashes and thumbprints are fixed-size binary (the digest bytes, not hex), so a matcher can view
them as integers without copying; `remote_ip` is 16 bytes (IPv4 as an IPv4-mapped IPv6 address,
`::ffff:a.b.c.d`). Strings are canonical as in `domain.telemetry`.

Conversions here are pure (no I/O). The vectorised helpers are lenient, like every telemetry
reader: a value that does not convert becomes null; they never raise for one bad row.
"""

from __future__ import annotations

import binascii
import ipaddress
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from iocd.domain.instants import from_micros
from iocd.domain.telemetry import EventKind, TelemetryEvent

EVENT_SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("device_id", pa.string(), nullable=False),
        pa.field("device_name", pa.string()),
        pa.field("sha256", pa.binary(32)),
        pa.field("sha1", pa.binary(20)),
        pa.field("md5", pa.binary(16)),
        pa.field("signer_thumbprint", pa.binary(20)),
        pa.field("signature_valid", pa.bool_()),
        pa.field("signer_trusted", pa.bool_()),
        pa.field("file_name", pa.string()),
        pa.field("file_path", pa.string()),
        pa.field("remote_ip", pa.binary(16)),
        pa.field("remote_port", pa.int32()),
        pa.field("domain", pa.string()),
        pa.field("url", pa.string()),
        pa.field("sni", pa.string()),
        pa.field("source", pa.string()),
        pa.field("device_group", pa.string()),
    ]
)
"""One row per event; field names equal `domain.telemetry.TelemetryEvent` attributes."""

HASH_COLUMNS = {"sha256": 32, "sha1": 20, "md5": 16, "signer_thumbprint": 20}

_FIELDS = tuple(EVENT_SCHEMA.names)
_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
_MAPPED_WORD = np.frombuffer(_MAPPED_PREFIX[8:], dtype="<u4")[0]
"""Bytes 8-11 of an IPv4-mapped address, as the third little-endian word of its 16 bytes."""
_UPPER_A, _DOT = np.uint8(ord("A")), np.uint8(ord("."))
_OCTET = "(0|[1-9][0-9]{0,2})"
_IPV4_PATTERN = r"^" + r"\.".join(f"(?P<o{i}>{_OCTET[1:-1]})" for i in range(4)) + "$"
# Nibble value of each byte (255 where the byte is not a hex digit).
_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"abcdef", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint8)


def ip_to_bytes(text: str) -> bytes:
    """16 bytes of an address; IPv4 (and its text as `::ffff:a.b.c.d`) is IPv4-mapped.

    Raises ValueError when `text` is not one IPv4 or IPv6 address.
    """
    address = ipaddress.ip_address(text.strip())
    if isinstance(address, ipaddress.IPv4Address):
        return _MAPPED_PREFIX + address.packed
    return address.packed


def bytes_to_ip(packed: bytes) -> str:
    """The canonical text of 16 address bytes: an IPv4-mapped address is shown as IPv4."""
    if len(packed) != 16:
        raise ValueError(f"an address is 16 bytes, got {len(packed)}")
    if packed[:12] == _MAPPED_PREFIX:
        return f"{packed[12]}.{packed[13]}.{packed[14]}.{packed[15]}"
    return str(ipaddress.IPv6Address(packed))


def _fixed_binary(width: int, valid: npt.NDArray[np.bool_], data: npt.NDArray[np.uint8]) -> Any:
    """A fixed_size_binary(width) array from a row mask and a (rows, width) byte matrix (shared,
    not copied: the array keeps the matrix alive)."""
    count = len(valid)
    mask = None if bool(valid.all()) else pa.py_buffer(np.packbits(valid, bitorder="little"))
    payload = pa.py_buffer(np.ascontiguousarray(data, dtype=np.uint8))
    return pa.Array.from_buffers(pa.binary(width), count, [mask, payload])


def _strings(column: Any) -> Any:
    """`column` (a list, an Array or a ChunkedArray) as one string Array."""
    strings = pa.array(column, type=pa.string()) if not isinstance(column, pa.Array) else column
    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    return pc.cast(strings, pa.string())


def _string_buffers(
    strings: Any,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """(row is not null, offsets, data) of a string Array, the text not copied: a row's text
    is `data[offsets[row] : offsets[row + 1]]` (a null row's may be anything)."""
    count = len(strings)
    present = (
        np.ones(count, dtype=bool)
        if strings.null_count == 0
        else strings.is_valid().to_numpy(zero_copy_only=False)
    )
    raw = np.frombuffer(strings.buffers()[1], dtype=np.int32)
    offsets = raw[strings.offset : strings.offset + count + 1].astype(np.int64)
    buffer = strings.buffers()[2]
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    return present, offsets, data


def are_lower_ascii_names(column: Any) -> bool:
    """True when every value is lower-case ASCII without a trailing dot (or null, or empty):
    a domain column that is canonical already. Checked on the bytes; False when unsure."""
    strings = _strings(column)
    if not len(strings):
        return True
    present, offsets, data = _string_buffers(strings)
    text = data[offsets[0] : offsets[-1]]
    if bool(((text - _UPPER_A) < 26).any()) or bool((text >= 0x80).any()):
        return False
    ends = offsets[1:][present & (offsets[1:] > offsets[:-1])] - 1
    return not bool((data[ends] == _DOT).any())


def hex_to_fixed_binary(column: Any, width: int) -> Any:
    """Hex text (either case) -> fixed_size_binary(width); anything else, or null, -> null.

    Vectorised: the digits are gathered from the string buffer with numpy, no Python per row.
    """
    strings = _strings(column)
    count = len(strings)
    if count == 0:
        return pa.array([], type=pa.binary(width))
    present, offsets, data = _string_buffers(strings)
    valid = present & (np.diff(offsets) == 2 * width)
    rows = np.flatnonzero(valid)
    matrix = np.zeros((count, width), dtype=np.uint8)
    if len(rows):
        start, end = int(offsets[0]), int(offsets[-1])
        if end - start == len(rows) * 2 * width:
            # Every non-empty value is a digest: the digits lie end to end, no gather needed.
            packed = _all_hex(data[start:end], len(rows) * width)
            if packed is not None:
                _scatter_rows(matrix, rows, packed.reshape(len(rows), width))
                return _fixed_binary(width, valid, matrix)
            digits = data[start:end].reshape(len(rows), 2 * width)
        else:
            gather = offsets[rows][:, None] + np.arange(2 * width)
            digits = data[gather]
        nibbles = _NIBBLE[digits].reshape(len(rows), width, 2)
        good = (nibbles != 255).all(axis=(1, 2))
        valid[rows[~good]] = False
        matrix[rows] = (nibbles[:, :, 0] << 4) | nibbles[:, :, 1]
        matrix[rows[~good]] = 0
    return _fixed_binary(width, valid, matrix)


def _scatter_rows(
    matrix: npt.NDArray[np.uint8], rows: npt.NDArray[np.intp], values: npt.NDArray[np.uint8]
) -> None:
    """`matrix[rows] = values`, moved as 4-byte words when the width allows (cheaper)."""
    if matrix.shape[1] % 4:
        matrix[rows] = values
    else:
        matrix.view("<u4")[rows] = values.view("<u4")


def _all_hex(digits: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.uint8] | None:
    """The bytes of hex digits lying end to end, when every one is a hex digit (the usual
    case, decoded in one call, straight from the buffer); None otherwise (the caller checks
    digit by digit)."""
    try:
        packed = binascii.a2b_hex(np.ascontiguousarray(digits).data)
    except binascii.Error:  # not a hex digit (a2b_hex, unlike fromhex, allows no spaces)
        return None
    if len(packed) != size:
        return None
    return np.frombuffer(packed, dtype=np.uint8)


def ip_text_to_binary(column: Any) -> Any:
    """IP address text -> binary(16) (IPv4 mapped); anything else, or null, -> null.

    Dotted-quad IPv4 is converted with vectorised kernels; other text (IPv6, odd forms) is
    parsed once per distinct value.
    """
    strings = pc.utf8_trim_whitespace(_strings(column))
    count = len(strings)
    words = np.zeros((count, 4), dtype="<u4")  # the 16 bytes of a row as 4 words
    v4, octets = _dotted_quads(strings)
    valid = np.zeros(count, dtype=bool)
    if len(octets):
        in_range = (octets <= 255).all(axis=1)
        rows = np.flatnonzero(v4)[in_range]
        valid[rows] = True
        words[rows, 2] = _MAPPED_WORD
        quads = np.ascontiguousarray(octets[in_range].astype(np.uint8))
        words[rows, 3] = quads.view("<u4").reshape(-1)
    others = np.flatnonzero(~v4 & ~strings.is_null().to_numpy(zero_copy_only=False))
    if len(others):
        texts = strings.take(pa.array(others)).to_pylist()
        seen: dict[str, bytes | None] = {}
        for row, text in zip(others.tolist(), texts, strict=True):
            if text not in seen:
                seen[text] = _lenient_ip_bytes(text)
            packed = seen[text]
            if packed is not None:
                words[row] = np.frombuffer(packed, dtype="<u4")
                valid[row] = True
    return _fixed_binary(16, valid, words.view(np.uint8))


def _dotted_quads(strings: Any) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint16]]:
    """(row is a dotted quad, its four octets as numbers) for a string array.

    Splitting on '.' and casting is much cheaper than a regular expression; when some
    four-part value is not all digits (rare: `::ffff:1.2.3.4`), the pattern decides instead.
    (The cast accepts a leading zero, `01.2.3.4`, which the pattern would not.)
    """
    parts = pc.split_pattern(strings, ".", max_splits=4)
    v4 = pc.fill_null(pc.equal(pc.list_value_length(parts), 4), False)
    quads = pc.list_flatten(pc.filter(parts, v4))
    try:
        flat = pc.cast(quads, pa.uint16()).to_numpy(zero_copy_only=False)
        return v4.to_numpy(zero_copy_only=False), flat.reshape(-1, 4)
    except pa.ArrowInvalid:
        pass
    is_v4 = pc.fill_null(pc.match_substring_regex(strings, _IPV4_PATTERN), False)
    parts4 = pc.extract_regex(pc.filter(strings, is_v4), _IPV4_PATTERN)
    octets = np.stack(
        [
            pc.cast(parts4.field(f"o{i}"), pa.uint16()).to_numpy(zero_copy_only=False)
            for i in range(4)
        ],
        axis=1,
    )
    return is_v4.to_numpy(zero_copy_only=False), octets


def _lenient_ip_bytes(text: str) -> bytes | None:
    try:
        return ip_to_bytes(text.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def _hex_or_none(text: str | None) -> bytes | None:
    if text is None:
        return None
    return bytes.fromhex(text)


def events_to_batch(events: Sequence[TelemetryEvent]) -> pa.RecordBatch:
    """The EVENT_SCHEMA batch of `events`, in order. Values must already be canonical."""
    columns: dict[str, list[Any]] = {name: [] for name in _FIELDS}
    for event in events:
        for name in _FIELDS:
            value = getattr(event, name)
            if name in HASH_COLUMNS:
                value = _hex_or_none(value)
            elif name == "remote_ip" and value is not None:
                value = ip_to_bytes(value)
            elif name == "kind":
                value = str(value)
            columns[name].append(value)
    arrays = [pa.array(columns[field.name], type=field.type) for field in EVENT_SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)


def batch_to_events(batch: pa.RecordBatch) -> list[TelemetryEvent]:
    """The events of an EVENT_SCHEMA batch (the inverse of `events_to_batch`), converted a
    column at a time."""
    columns: list[list[Any]] = []
    for name in _FIELDS:
        column = batch.column(name)
        if name == "time":
            micros = column.cast(pa.int64()).to_numpy(zero_copy_only=False).tolist()
            columns.append([from_micros(m) for m in micros])
        elif name in HASH_COLUMNS:
            columns.append([None if v is None else v.hex() for v in column.to_pylist()])
        elif name == "remote_ip":
            columns.append([None if v is None else bytes_to_ip(v) for v in column.to_pylist()])
        elif name == "kind":
            columns.append([EventKind(v) for v in column.to_pylist()])
        else:
            columns.append(column.to_pylist())
    return [TelemetryEvent(*row) for row in zip(*columns, strict=True)]
