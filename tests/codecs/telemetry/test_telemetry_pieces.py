"""JSON lines read in pieces (from bytes or streamed from a file) and the cheap checks that let
the fast path skip work: every line arrives whole, once, in order, with its offset."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st

from iocd.codecs.telemetry import common, native
from iocd.codecs.telemetry.common import ReadReport
from iocd.codecs.telemetry.containers import (
    file_head,
    file_line_pieces,
    line_pieces,
    newlines_before,
)
from iocd.matching.columns import are_lower_ascii_names

lines = st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=30)


class _Trickle(io.BytesIO):
    """A stream that hands out at most 5 bytes a read (as a pipe may)."""

    def readinto(self, buffer: object) -> int:
        view = memoryview(buffer)  # type: ignore[arg-type]
        return super().readinto(view[:5])


def _check(data: bytes, pieces: list[tuple[int, bytes]], size: int) -> None:
    assert b"".join(piece for _, piece in pieces) == data
    longest = max(len(line) + 1 for line in data.split(b"\n"))
    at = 0
    for offset, piece in pieces:
        assert offset == at and piece
        at += len(piece)
        assert piece.endswith(b"\n") or offset + len(piece) == len(data)
        assert len(piece) <= size + 2 * longest  # about `size`, more only for a long line


@given(lines, st.integers(1, 40), st.booleans())
def test_pieces_of_a_file_or_of_bytes_are_whole_lines_with_their_offsets(
    parts: list[bytes], size: int, last_newline: bool
) -> None:
    data = b"\n".join(parts) + (b"\n" if last_newline and parts else b"")
    from_bytes = [(offset, bytes(piece)) for offset, piece in line_pieces(data, size)]
    _check(data, from_bytes, size)
    for stream in (io.BytesIO(data), _Trickle(data)):
        from_file = [(offset, bytes(piece)) for offset, piece in file_line_pieces(stream, size)]
        _check(data, from_file, size)


def test_a_line_longer_than_the_buffer_comes_whole() -> None:
    data = b"a\n" + b"x" * 100 + b"\nb\n"
    pieces = [bytes(piece) for _, piece in file_line_pieces(io.BytesIO(data), 8)]
    assert b"".join(pieces) == data
    assert any(b"\n" + b"x" * 100 + b"\n" in b"\n" + piece for piece in pieces)
    assert all(piece.endswith(b"\n") for piece in pieces)


@given(st.binary(max_size=60), st.integers(1, 30))
def test_the_head_of_a_file_is_cut_as_the_head_of_its_bytes(data: bytes, size: int) -> None:
    cut = data.find(b"\n", size)
    assert file_head(io.BytesIO(data), size) == (data if cut < 0 else data[: cut + 1])


def test_newlines_before_an_offset() -> None:
    assert newlines_before(io.BytesIO(b"a\nb\n\nc\n"), 5) == 3
    assert newlines_before(io.BytesIO(b"a\n"), 10) == 1


names = st.none() | st.text(alphabet="abcXYZ.-é0", max_size=8)


def _domains_as_before(column: pa.Array) -> list[str | None]:
    """What the fast path did before it learnt to skip canonical columns."""
    lowered = pc.utf8_rtrim(pc.utf8_lower(column), characters=".")
    if pc.all(pc.fill_null(pc.string_is_ascii(lowered), True)).as_py() is not False:
        return list(lowered.to_pylist())
    return [common.domain(v) for v in column.to_pylist()]


@given(st.lists(names, max_size=12), st.integers(0, 3))
def test_domains_are_left_alone_only_when_canonical_already(
    values: list[str | None], skip: int
) -> None:
    column = pa.array(values, pa.string()).slice(min(skip, len(values)))
    kept = column.to_pylist()
    plain = all(v is None or (v.isascii() and v == v.lower() and not v.endswith(".")) for v in kept)
    assert are_lower_ascii_names(column) == plain
    assert are_lower_ascii_names(pa.chunked_array([column, column], pa.string())) == plain
    assert native._domains(column).to_pylist() == _domains_as_before(column)


def test_a_bad_line_in_a_later_piece_of_bytes_is_numbered() -> None:
    body = b"".join(
        b'{"time": "2024-05-01T12:00:00Z", "kind": "dns", "device_id": "d%d"}\n' % n
        for n in range(9)
    )
    lines = body.splitlines(keepends=True)
    broken = b"".join([*lines[:7], b"{oops\n", *lines[7:]])
    report = ReadReport()
    pieces = line_pieces(broken, 40)
    batches = list(
        native.read_json_lines(
            pieces, lambda at: broken.count(b"\n", 0, at), "body", report, batch_size=100
        )
    )
    assert sum(b.num_rows for b in batches) == 9
    assert report.samples[0].startswith("body:8: not valid JSON")
