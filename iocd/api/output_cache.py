"""Rendered outputs kept on disk, so that the pollers of one output share one render.

Firewalls and resolvers poll the same URLs every few minutes, and every change to the list
moves the ETag, so after each change every poller asks for a new body at about the same time.
`RenderCache` keeps the last body rendered for each set of request options (the ETag without
its sequence), in one file under `DATA_DIR/cache/outputs/`: a JSON line of what the response
headers need, then the body. A request whose ETag matches the file streams the file; a miss
renders once while the other requests for the same options wait for it (a lock per option set
in this process), then all stream the same file. A newer render replaces the file (written
under a temporary name, then renamed, so a reader never sees half a file; a reader that opened
the old file keeps reading it). The directory is bounded: past `max_bytes`, the least recently
used files are removed. Several processes sharing a data directory each render at most once per
change and agree on the content (the same ETag means the same data and options).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["Cached", "RenderCache"]

READ_BYTES = 1 << 16
DEFAULT_MAX_BYTES = 2 << 30
"""Two GiB: a million Suricata rules take about 300 MiB, a million-entry EDL about 30 MiB."""


@dataclass
class Cached:
    """An open cached body: `meta` as stored (the ETag and header values), `stream` the body."""

    meta: dict[str, Any]
    stream: IO[bytes]

    def chunks(self) -> Iterator[bytes]:
        """The body in pieces; closes the file at the end (or when the response is dropped)."""
        try:
            while piece := self.stream.read(READ_BYTES):
                yield piece
        finally:
            self.stream.close()


class RenderCache:
    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._dir = directory
        self._max_bytes = max_bytes
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _path(self, options: str) -> Path:
        return self._dir / f"{options}.out"

    def open(self, options: str, etag: str) -> Cached | None:
        """The cached body of these options if it was rendered for this ETag."""
        path = self._path(options)
        try:
            stream = path.open("rb")
        except FileNotFoundError:
            return None
        try:
            meta = json.loads(stream.readline())
        except ValueError:
            meta = None
        if not isinstance(meta, dict) or meta.get("etag") != etag:
            stream.close()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used
        return Cached(meta, stream)

    def get_or_render(
        self,
        options: str,
        etag: str,
        render: Callable[[], tuple[dict[str, Any], Iterable[bytes]]],
    ) -> Cached:
        """The cached body for this ETag, rendering it first if need be. `render` answers the
        metadata (with the ETag the body really has, which may be newer than `etag`) and the
        body's pieces."""
        found = self.open(options, etag)
        if found is not None:
            return found
        with self._lock(options):
            found = self.open(options, etag)
            if found is not None:
                return found
            meta, pieces = render()
            return self._store(options, meta, pieces)

    def _lock(self, options: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(options, threading.Lock())

    def _store(self, options: str, meta: dict[str, Any], pieces: Iterable[bytes]) -> Cached:
        self._dir.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(prefix=f".{options}.", dir=self._dir)
        partial = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(json.dumps(meta).encode() + b"\n")
                for piece in pieces:
                    out.write(piece)
            stream = partial.open("rb")
            stream.readline()
            partial.replace(self._path(options))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        self._trim(keep=self._path(options))
        return Cached(meta, stream)

    def _trim(self, keep: Path) -> None:
        """Remove the least recently used bodies while the directory is over its bound."""
        files = []
        for path in self._dir.glob("*.out"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self._max_bytes:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size
