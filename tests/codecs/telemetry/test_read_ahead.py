"""Reading ahead in a thread: same items in order, errors where they happened, early stops."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from iocd.codecs.telemetry.read_ahead import read_ahead


def test_yields_everything_in_order_and_leaves_no_thread() -> None:
    before = threading.active_count()
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))
    assert list(read_ahead([])) == []
    assert threading.active_count() == before


def test_an_error_of_the_reader_is_raised_after_what_it_read_before() -> None:
    def reader() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("broken file")

    ahead = read_ahead(reader())
    assert [next(ahead), next(ahead)] == [1, 2]
    with pytest.raises(ValueError, match="broken file"):
        next(ahead)


def test_stopping_early_stops_the_thread_and_closes_the_reader() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def reader() -> Iterator[int]:
        try:
            for n in range(10_000):
                produced.append(n)
                yield n
        finally:
            closed.set()

    before = threading.active_count()
    ahead = read_ahead(reader(), depth=2)
    assert [next(ahead), next(ahead)] == [0, 1]
    ahead.close()
    assert closed.is_set()
    assert len(produced) < 10  # bounded: it never ran far ahead
    assert threading.active_count() == before


def test_reading_starts_when_made_before_the_first_batch_is_asked_for() -> None:
    started = threading.Event()

    def reader() -> Iterator[int]:
        started.set()
        yield 1

    with closing(read_ahead(reader())) as ahead:
        assert started.wait(5)  # `iocd scan` reads while it opens the store
        assert list(ahead) == [1]


def _readers() -> int:
    """Read-ahead threads alive (other tests' servers start and stop threads of their own)."""
    return sum(t.name == "iocd-read-ahead" for t in threading.enumerate())


def test_closing_it_early_or_dropping_it_unread_ends_the_thread() -> None:
    closed = threading.Event()

    def reader() -> Iterator[int]:
        try:
            yield from range(10_000)
        finally:
            closed.set()

    before = _readers()
    with pytest.raises(RuntimeError, match="caller failed"), closing(read_ahead(reader())):
        raise RuntimeError("caller failed")  # e.g. the store would not open
    assert closed.is_set()
    assert _readers() == before
    read_ahead(range(10_000))  # never iterated, never closed
    deadline = threading.Event()
    for _ in range(50):
        if _readers() == before:
            break
        deadline.wait(0.1)
    assert _readers() == before
