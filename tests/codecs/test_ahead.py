"""Parse-ahead: rows read in a child process are the rows read here, line numbers and all;
the reader's errors surface in the importer; memory and the child's life are bounded."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO

import pytest

from iocd.codecs.ahead import FIELD_NAMES, ParseAhead, ReaderStopped, dump_rows
from iocd.codecs.csv import COLUMNS, read_csv
from iocd.codecs.plainlist import read_plain_list
from iocd.codecs.rows import CsvRow, ParsedItem, RowFailure, as_parsed_rows
from iocd.domain.indicator import IndicatorFields
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.errors import InvalidInput

GOLDEN = Path(__file__).parent / "golden"
T1 = datetime(2031, 1, 1, tzinfo=UTC)


def inline(reader, path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as stream:
        return list(as_parsed_rows(reader(stream)))


def ahead(reader, path: Path, **options: object):  # type: ignore[no-untyped-def]
    with ParseAhead(reader, path, **options) as rows:  # type: ignore[arg-type]
        return list(rows)


def big_csv(path: Path, rows: int, bad_every: int = 0) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\r\n")
        for n in range(rows):
            action = "Nuke" if bad_every and n % bad_every == 0 else "Audit"
            # every 7th row is a two-line record: line numbers must follow physical lines
            description = f'"two\nlines {n}"' if n % 7 == 0 else f"row {n}"
            out.write(
                f"FileSha256,{n:064x},2031-01-01T00:00:00Z,{action},High,t{n},{description},,,,,"
                "true\r\n"
            )
    return path


# Readers run in the child: module-level so that spawn can pickle them too.


def failing_reader(stream: BinaryIO) -> Iterator[ParsedItem]:
    rows = read_csv(stream)
    for count, item in enumerate(rows):
        if count == 2_500:
            raise ValueError("the disk went away")
        yield item


class Unpicklable(Exception):
    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} and {b}")


def unpicklable_failure(stream: BinaryIO) -> Iterator[ParsedItem]:
    yield from ()
    raise Unpicklable("this", "that")


def dying_reader(stream: BinaryIO) -> Iterator[ParsedItem]:
    yield RowFailure(2, "first", "x")
    os._exit(3)


def endless_reader(stream: BinaryIO) -> Iterator[ParsedItem]:
    fields = IndicatorFields(IndicatorType.FILE_MD5, "0" * 32, Action.AUDIT, "t", "d")
    line = 1
    while True:
        line += 1
        yield CsvRow(line, fields)


# --- same rows, same lines ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mde_sample.csv", "mixed.csv"])
def test_golden_csv_files_read_ahead_as_read_here(name: str) -> None:
    assert ahead(read_csv, GOLDEN / name) == inline(read_csv, GOLDEN / name)


def test_plain_list_reads_ahead_as_read_here() -> None:
    reader = partial(
        read_plain_list,
        indicator_type=None,
        action="Block",
        title="t",
        description="d",
        expiration_time=T1,
        rbac_group_names=("Servers",),
    )
    rows = ahead(reader, GOLDEN / "list.txt")
    assert rows == inline(reader, GOLDEN / "list.txt")
    assert any(isinstance(parsed, str) for _, parsed in rows)


def test_many_batches_keep_order_and_line_numbers_of_failures(tmp_path: Path) -> None:
    path = big_csv(tmp_path / "big.csv", 5_000, bad_every=97)
    rows = ahead(read_csv, path, batch_rows=64, depth=2)
    assert rows == inline(read_csv, path)
    failed = [(line, reason) for line, reason in rows if isinstance(reason, str)]
    assert len(failed) == len(range(0, 5_000, 97))
    # row n starts on line 2 + n + (rows before it that took two lines)
    assert failed[1][0] == 2 + 97 + len(range(0, 97, 7))
    assert failed[1][1].startswith("Action: unknown value 'Nuke'")


def test_spawned_reader_gives_the_same_rows(tmp_path: Path) -> None:
    path = big_csv(tmp_path / "small.csv", 300, bad_every=50)
    spawn = multiprocessing.get_context("spawn")
    assert ahead(read_csv, path, context=spawn) == inline(read_csv, path)


def test_batches_carry_every_field_and_share_equal_expiry_times() -> None:
    full = IndicatorFields(
        IndicatorType.URL,
        "https://a.example/x",
        Action.BLOCK,
        "title",
        "description",
        "hxxps://a.example/x",
        Severity.HIGH,
        True,
        datetime(2031, 1, 1, tzinfo=UTC),
        "recommended",
        "application",
        "https://educate.example",
        "ext-1",
        "Execution",
        ("T1059", "T1204.002"),
        ("Laptops", "Servers"),
    )
    assert {name: getattr(full, name) for name in FIELD_NAMES} != {
        name: getattr(IndicatorFields(IndicatorType.URL, "v", Action.AUDIT, "t", "d"), name)
        for name in FIELD_NAMES
    }, "every field differs from its default, so a dropped field would show"
    twin = IndicatorFields(
        IndicatorType.FILE_MD5,
        "0" * 32,
        Action.AUDIT,
        "t",
        "d",
        expiration_time=datetime(2031, 1, 1, tzinfo=UTC),
    )
    rows: list[tuple[int, IndicatorFields | str]] = [(2, full), (3, "bad row"), (4, twin)]
    loaded = pickle.loads(dump_rows(rows))  # noqa: S301
    assert loaded == rows
    assert loaded[0][1].expiration_time is loaded[2][1].expiration_time
    assert loaded[0][1].indicator_type is IndicatorType.URL


# --- errors surface ----------------------------------------------------------------------------


def test_header_errors_are_raised_before_any_row(tmp_path: Path) -> None:
    path = tmp_path / "no-header.csv"
    path.write_text("FileMd5,44d88612fea8a8f36de82e1278abb02f,,Audit\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="the file has no header") as raised:
        ParseAhead(read_csv, path)
    assert raised.value.field == "header"
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInput, match="the file is empty"):
        ParseAhead(read_csv, empty)


def test_started_without_waiting_the_header_error_comes_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "no-header.csv"
    path.write_text("FileMd5,44d88612fea8a8f36de82e1278abb02f,,Audit\n", encoding="utf-8")
    started = ParseAhead(read_csv, path, wait=False)
    with pytest.raises(InvalidInput, match="the file has no header"):
        started.wait_until_ready()
    assert not started._process.is_alive()
    with ParseAhead(read_csv, path, wait=False) as rows, pytest.raises(InvalidInput):
        list(rows)


def test_started_without_waiting_the_rows_are_the_same(tmp_path: Path) -> None:
    path = big_csv(tmp_path / "big.csv", 3_000, bad_every=7)
    with ParseAhead(read_csv, path, batch_rows=100, wait=False) as rows:
        rows.wait_until_ready()
        rows.wait_until_ready()  # idempotent
        assert list(rows) == inline(read_csv, path)


def test_shared_list_fields_are_checked_before_any_row() -> None:
    reader = partial(
        read_plain_list, indicator_type=None, action="Nuke", title="t", description="d"
    )
    with pytest.raises(InvalidInput, match="Nuke"):
        ParseAhead(reader, GOLDEN / "list.txt")


def test_an_exception_in_the_reader_is_raised_after_the_rows_before_it(tmp_path: Path) -> None:
    path = big_csv(tmp_path / "big.csv", 5_000)
    seen: list[int] = []

    def take_all(rows: ParseAhead) -> None:
        seen.extend(line for line, _ in rows)

    with (
        ParseAhead(failing_reader, path, batch_rows=100) as rows,
        pytest.raises(ValueError, match="the disk went away") as raised,
    ):
        take_all(rows)
    assert len(seen) == 2_500
    assert any("raised in the reader process" in note for note in raised.value.__notes__)


def test_an_exception_that_cannot_cross_is_reported_as_text(tmp_path: Path) -> None:
    with (
        ParseAhead(unpicklable_failure, GOLDEN / "mixed.csv") as rows,
        pytest.raises(ReaderStopped, match="Unpicklable: this and that"),
    ):
        list(rows)


def test_a_reader_that_dies_is_reported() -> None:
    # It may die before its first message is flushed: then the constructor reports it.
    with (
        pytest.raises(ReaderStopped, match="exit code 3"),
        ParseAhead(dying_reader, GOLDEN / "mixed.csv") as rows,
    ):
        list(rows)


# --- bounded and ended ---------------------------------------------------------------------------


def test_the_reader_waits_for_the_importer_and_ends_when_closed() -> None:
    reader = ParseAhead(endless_reader, GOLDEN / "mixed.csv", batch_rows=10, depth=2)
    taken = []
    for line, _ in reader:
        taken.append(line)
        if len(taken) == 25:
            break
    assert taken == list(range(2, 27))
    time.sleep(0.3)  # an unbounded reader would run far ahead (and its memory with it)
    assert reader._channel.qsize() <= 2
    process = reader._process
    reader.close()
    assert not process.is_alive()
    reader.close()  # idempotent


def test_the_reader_ignores_ctrl_c_and_the_importer_ends_it(tmp_path: Path) -> None:
    path = big_csv(tmp_path / "big.csv", 5_000)
    with ParseAhead(read_csv, path, batch_rows=10, depth=2) as rows:
        iterator = iter(rows)
        next(iterator)
        process = rows._process
        assert process.pid is not None
        os.kill(process.pid, 2)  # SIGINT, as a terminal sends it to the whole process group
        time.sleep(0.3)
        assert process.is_alive()
        assert sum(1 for _ in iterator) == 4_999
    assert not process.is_alive()
