"""File hashes in one read: only the types the policy holds, 1 MiB at a time.

`hash_file(path, types)` reads the file once through one reusable buffer and feeds each chunk to
the hashlib objects of the wanted types (SHA-256, SHA-1, MD5); a file of at most one chunk is read
with a single call. A type the policy does not hold is never computed: with a SHA-256-only policy
the cost is one SHA-256 pass, as `openssl dgst -sha256` would spend.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from iocd.domain.types import IndicatorType

CHUNK = 1 << 20
_ALGORITHMS = {
    IndicatorType.FILE_SHA256: "sha256",
    IndicatorType.FILE_SHA1: "sha1",
    IndicatorType.FILE_MD5: "md5",
}
ALL_HASHES = frozenset(_ALGORITHMS)
_local = threading.local()


@dataclass(frozen=True, slots=True)
class FileHashes:
    """Lower-case hex digests (None for a type not computed) and what was read.

    `size`, `mtime_ns`, `inode` and `device` are from `fstat` on the open file, after reading:
    the quarantine compares them with the file it moves, so a file changed after hashing is
    hashed again rather than quarantined on a stale verdict.
    """

    size: int
    mtime_ns: int
    inode: int
    device: int
    sha256: str | None = None
    sha1: str | None = None
    md5: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {
            k: v for k, v in (("sha256", self.sha256), ("sha1", self.sha1), ("md5", self.md5)) if v
        }


def hash_file(path: str | os.PathLike[str], types: Iterable[IndicatorType]) -> FileHashes:
    """Read `path` once and compute the hashes of `types` (file hash types only; others are
    ignored). Symbolic links are not followed. Raises OSError when the file cannot be read."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        return hash_descriptor(fd, types)
    finally:
        os.close(fd)


def hash_descriptor(fd: int, types: Iterable[IndicatorType]) -> FileHashes:
    """The hashes of `types` of the file open as `fd`, read from its start (the descriptor is
    left open: a fanotify event's, for one)."""
    chosen = set(types)
    wanted = [
        hashlib.new(name, usedforsecurity=False) for t, name in _ALGORITHMS.items() if t in chosen
    ]
    if wanted:
        os.lseek(fd, 0, os.SEEK_SET)
        view = _buffer()
        while True:
            count = os.readv(fd, [view])
            if not count:
                break
            chunk = view[:count] if count < CHUNK else view
            for digest in wanted:
                digest.update(chunk)
    after = os.fstat(fd)
    found = {d.name: d.hexdigest() for d in wanted}
    return FileHashes(
        size=after.st_size,
        mtime_ns=after.st_mtime_ns,
        inode=after.st_ino,
        device=after.st_dev,
        sha256=found.get("sha256"),
        sha1=found.get("sha1"),
        md5=found.get("md5"),
    )


def _buffer() -> memoryview:
    """This thread's reusable chunk buffer (allocating 1 MiB per small file would cost more
    than hashing it)."""
    view: memoryview | None = getattr(_local, "view", None)
    if view is None:
        view = _local.view = memoryview(bytearray(CHUNK))
    return view
