"""Reading ahead: a reader's batches produced by a background thread while the caller works on
the previous ones. Parquet and JSON decoding, decompression and Arrow compute release the GIL,
so on a machine with two cores reading a file and scanning it overlap.

Reading starts when the `ReadAhead` is made, not when it is first asked for a batch: `iocd scan`
makes it before it opens the store and loads the index, so the first batches are parsed
meanwhile. The thread stays at most `depth` batches ahead (bounded memory). An error in the
reader is raised to the caller where the failed batch would have come. Closing it (`close`;
`with contextlib.closing(...)` closes it on an error of the caller's or a stop before the end)
stops the thread and closes the reader; so does running out.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

__all__ = ["ReadAhead", "read_ahead"]

T = TypeVar("T")
_POLL_SECONDS = 0.1


class _End:
    """What the thread puts last: the reader's error, or None when it ran out."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class ReadAhead(Generic[T]):
    """What `batches` yields, in order, read by a background thread started now."""

    def __init__(self, batches: Iterable[T], depth: int = 2) -> None:
        self._ready: queue.Queue[T | _End] = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._done = False
        # The thread holds the queue and the flag, not this object: one dropped unread is
        # collected, and its __del__ stops the thread.
        self._thread = threading.Thread(
            target=_produce,
            args=(batches, self._ready, self._stop),
            name="iocd-read-ahead",
            daemon=True,
        )
        self._thread.start()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._ready.get()
        if isinstance(item, _End):
            self.close()
            if item.error is not None:
                raise item.error
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop reading (the reader is closed on its thread) and wait for the thread."""
        self._done = True
        self._stop.set()
        self._thread.join()

    def __del__(self) -> None:  # dropped unread: let the thread end (it polls the flag)
        self._stop.set()


def _offer(ready: queue.Queue[T | _End], stop: threading.Event, item: T | _End) -> bool:
    while not stop.is_set():
        try:
            ready.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _produce(batches: Iterable[T], ready: queue.Queue[T | _End], stop: threading.Event) -> None:
    source = iter(batches)
    try:
        for batch in source:
            if not _offer(ready, stop, batch):
                return
    except BaseException as error:  # handed to the caller, raised there
        _offer(ready, stop, _End(error))
        return
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()  # a reader stopped early releases its file here, on its own thread
    _offer(ready, stop, _End(None))


def read_ahead(batches: Iterable[T], depth: int = 2) -> ReadAhead[T]:
    """Start reading `batches` in a background thread; iterate the answer for them in order."""
    return ReadAhead(batches, depth)
