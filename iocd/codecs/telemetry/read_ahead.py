"""Reading ahead: a reader's batches produced by a background thread while the caller works on
the previous ones. Parquet and JSON decoding, decompression and Arrow compute release the GIL,
so on a machine with two cores reading a file and scanning it overlap.

The thread stays at most `depth` batches ahead (bounded memory). An error in the reader is
raised to the caller where the failed batch would have come; a caller that stops early (an
error of its own, a closed generator) stops the thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")
_POLL_SECONDS = 0.1


class _End:
    """What the thread puts last: the reader's error, or None when it ran out."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def read_ahead(batches: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield what `batches` yields, in order, read by a background thread."""
    ready: queue.Queue[T | _End] = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def offer(item: T | _End) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(batches)
        try:
            for batch in source:
                if not offer(batch):
                    return
        except BaseException as error:  # handed to the caller, raised there
            offer(_End(error))
            return
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a reader stopped early releases its file here, on its own thread
        offer(_End(None))

    thread = threading.Thread(target=produce, name="iocd-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()
