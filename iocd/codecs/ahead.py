"""Parse ahead: read and validate a file's rows in a child process while this one stores them.

An import spends about a third of its time reading CSV and validating each row. `ParseAhead`
runs a row reader (`read_csv`, `read_plain_list`, any function of a binary stream that yields
CsvRow or RowFailure) in a second process over the file, and hands the rows back here as
`(line, IndicatorFields or failure reason)`, the shape `services.imports.ParsedRow` takes:
the same rows, in the same order, with the same line numbers as reading them here.

- Rows cross the process boundary in batches, pickled compactly (`_RowPickler`): each
  IndicatorFields as its constructor's arguments, enum members and equal datetimes once a batch.
- Memory stays bounded: at most `depth` batches wait in the queue; the reader blocks until the
  importer catches up.
- The reader's errors surface here: InvalidInput about the header is raised by the constructor
  (or, with `wait=False`, by `wait_until_ready()` or the first step of the iteration), before
  any row, as reading in this process would; any other exception is raised again from the
  iterator (with the reader's traceback as a note). A reader that dies silently (killed)
  raises ReaderStopped.
- With `wait=False` the constructor returns as soon as the child is started: this process can
  get ready to store rows (open the store...) while the child opens the file (for a STIX or
  MISP document, parses it whole) and reads the first rows.
- The child ignores SIGINT: Ctrl-C interrupts the importer, whose open transaction rolls back
  (committed chunks stay), and `close()` ends the child.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import operator
import os
import pickle
import queue as queue_errors
import signal
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from datetime import datetime
from multiprocessing.context import BaseContext
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from iocd.codecs.rows import ParsedItem, as_parsed_rows
from iocd.domain.indicator import IndicatorFields
from iocd.domain.types import Action, IndicatorType, Severity
from iocd.errors import InvalidInput

RowReader = Callable[[BinaryIO], Iterable[ParsedItem]]
"""Opens the rows of a binary stream; raises InvalidInput at once for a bad header."""

BATCH_ROWS = 1_000
QUEUE_DEPTH = 16
POLL_SECONDS = 0.2
READ_BUFFER = 1 << 16

FIELD_NAMES = tuple(f.name for f in fields(IndicatorFields))
"""IndicatorFields' constructor arguments, in order."""

ParsedRow = tuple[int, IndicatorFields | str]
"""(line, fields or failure reason): what `services.imports.import_rows` takes."""


class ReaderStopped(RuntimeError):
    """The reader process ended without finishing the file or reporting an error."""


_field_values = operator.attrgetter(*FIELD_NAMES)
_EXPIRY = FIELD_NAMES.index("expiration_time")
_ENUMS = frozenset({IndicatorType, Action, Severity})


class _RowPickler(pickle.Pickler):
    """Pickles one batch of parsed rows compactly, and cheaply to load (plain pickle.loads).

    IndicatorFields go as their constructor's arguments (rebuilt by one call, no per-object
    state); enum members by name, and equal expiry times as one object, each once a batch (the
    pickle memo repeats them).
    """

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self._times: dict[datetime, datetime] = {}

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is IndicatorFields:
            values = _field_values(obj)
            expiry = values[_EXPIRY]
            if expiry is not None:
                shared = self._times.setdefault(expiry, expiry)
                if shared is not expiry:
                    values = (*values[:_EXPIRY], shared, *values[_EXPIRY + 1 :])
            return IndicatorFields, values
        if kind in _ENUMS:
            return getattr, (kind, obj.name)
        return NotImplemented


def dump_rows(rows: list[ParsedRow]) -> bytes:
    """The bytes of a batch of rows; pickle.loads gives the rows back, equal."""
    buffer = io.BytesIO()
    _RowPickler(buffer).dump(rows)
    return buffer.getvalue()


class _Orphaned(Exception):
    """The importer is gone: nobody will read what the reader sends."""


def _produce(
    reader: RowReader, path: str, channel: Any, batch_rows: int, forked: bool, parent: int
) -> None:
    """The child: read the file, send ('ready',), then ('rows', batch, offset)..., ('end',)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if forked:
        gc.freeze()  # leave the parent's objects alone: no copy-on-write of the whole heap

    def send(message: tuple[Any, ...]) -> None:
        while True:
            try:
                channel.put(message, timeout=1.0)
                return
            except queue_errors.Full:
                if os.getppid() != parent:
                    raise _Orphaned from None

    final: tuple[Any, ...] | None = None
    try:
        with open(path, "rb", buffering=0) as raw:
            stream = io.BufferedReader(raw, READ_BUFFER)
            rows = reader(stream)
            send(("ready",))
            batch: list[ParsedRow] = []
            append = batch.append
            for row in as_parsed_rows(rows):
                append(row)
                if len(batch) >= batch_rows:
                    send(("rows", dump_rows(batch), raw.tell()))
                    batch = []
                    append = batch.append
            send(("rows", dump_rows(batch), raw.tell()))
        final = ("end",)
    except _Orphaned:
        pass
    except InvalidInput as error:
        final = ("invalid", error.field, error.reason, error.code)
    except BaseException as error:
        final = ("error", _portable(error), "".join(traceback.format_exception(error)))
    try:
        if final is None:
            raise _Orphaned
        send(final)
    except _Orphaned:
        channel.cancel_join_thread()  # nobody reads the pipe: do not wait to flush it
    channel.close()


def _portable(error: BaseException) -> BaseException | None:
    """The error itself if it survives pickling unchanged, else None (its text goes instead)."""
    try:
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes, just made)
    except Exception:
        return None
    return copy if type(copy) is type(error) and str(copy) == str(error) else None


def default_context() -> BaseContext:
    """fork where the platform has it (instant, nothing re-imported), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class ParseAhead:
    """Rows of `path` read by `reader` in a child process; iterate once, then `close()`.

    Use as a context manager so the child is always ended. `position` is how many bytes of the
    file the reader had consumed when it sent the last batch handed out (for progress bars).
    """

    def __init__(
        self,
        reader: RowReader,
        path: Path | str,
        *,
        batch_rows: int = BATCH_ROWS,
        depth: int = QUEUE_DEPTH,
        context: BaseContext | None = None,
        wait: bool = True,
    ) -> None:
        chosen = context or default_context()
        self.position = 0
        self._ready = False
        self._channel: Any = chosen.Queue(maxsize=depth)
        forked = chosen.get_start_method() == "fork"
        self._process = chosen.Process(  # type: ignore[attr-defined]
            target=_produce,
            args=(reader, os.fspath(path), self._channel, batch_rows, forked, os.getpid()),
            name="iocd-parse-ahead",
            daemon=True,
        )
        self._process.start()
        if wait:
            self.wait_until_ready()

    def wait_until_ready(self) -> None:
        """Return once the reader has opened the file, or raise what it reported then
        (InvalidInput about the header; ReaderStopped), having ended the child. Idempotent."""
        if self._ready:
            return
        try:
            self._check(self._receive())
        except BaseException:
            self.close()
            raise
        self._ready = True

    def __enter__(self) -> ParseAhead:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[ParsedRow]:
        self.wait_until_ready()
        while True:
            message = self._receive()
            if message[0] == "rows":
                batch: list[ParsedRow] = pickle.loads(message[1])  # noqa: S301 (our own child)
                self.position = message[2]
                yield from batch
            elif message[0] == "end":
                return
            else:
                self._check(message)

    def close(self) -> None:
        """End the child (if it is still reading) and release the queue; idempotent."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)
        if self._process.is_alive():  # pragma: no cover - SIGTERM is not ignored by the child
            self._process.kill()
            self._process.join()
        self._channel.close()

    def _receive(self) -> tuple[Any, ...]:
        while True:
            try:
                message: tuple[Any, ...] = self._channel.get(timeout=POLL_SECONDS)
                return message
            except queue_errors.Empty:
                if self._process.is_alive():
                    continue
            try:  # it may have sent its last messages just before it ended
                message = self._channel.get(timeout=POLL_SECONDS)
                return message
            except queue_errors.Empty:
                raise ReaderStopped(
                    f"the reader process stopped (exit code {self._process.exitcode}) "
                    "before the end of the file"
                ) from None

    @staticmethod
    def _check(message: tuple[Any, ...]) -> None:
        """Raise what the reader reported, if anything ('ready' and 'end' are fine)."""
        kind = message[0]
        if kind == "invalid":
            raise InvalidInput(message[1], message[2], message[3])
        if kind == "error":
            error, text = message[1], message[2]
            if error is None:
                raise ReaderStopped(f"the reader process failed:\n{text}")
            error.add_note(f"raised in the reader process:\n{text}")
            raise error
