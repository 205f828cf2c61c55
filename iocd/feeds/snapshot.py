"""A feed's items as a snapshot on disk, and the diff of a new snapshot against the last good one.

Each kind of feed turns what it fetched into item lines (a value of a list, a column of a CSV, a
JSON line per MISP attribute or STIX comparison). A snapshot is those lines (`items.txt`), the
8-byte BLAKE2b hash of each line (`hashes.npy`), and the identity hash of the indicator each
line gives (`identities.npy`, 0 for a line that gives none). The last good snapshot of a feed
(its base) lives in `<data>/feeds/<id>/base`, named by a token the feed's state records.

Only the lines whose hash is not in the base are decoded (normalised) and submitted; only the
base lines whose hash is gone are decoded again, to learn the identities they gave, and an
identity is withdrawn only if no line of the new snapshot still gives it. So a rerun of a
feed of a million lines where 1% changed normalises 1% of them. Memory holds the hash arrays
(16 bytes a line), never the feed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from iocd.domain.feeds import FeedState
from iocd.domain.indicator import IdentityKey, IndicatorFields

Hashes = npt.NDArray[np.uint64]
Decoded = tuple[str, IndicatorFields | str]
Decode = Callable[[str], Decoded]
"""An item line -> (a label for reports, its fields or why it gives no indicator)."""

ITEMS, HASHES, IDENTITIES, META = "items.txt", "hashes.npy", "identities.npy", "meta.json"


def line_hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


def identity_hash(key: IdentityKey) -> int:
    kind, value, scope = key
    data = f"{kind.value}\t{value}\t{scope}".encode()
    found = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
    return found or 1


def _as_hashes(data: bytes | bytearray) -> Hashes:
    return np.frombuffer(bytes(data), dtype="<u8").astype(np.uint64)


def _member(sorted_values: Hashes, values: Hashes) -> npt.NDArray[np.bool_]:
    """Whether each of `values` is in `sorted_values`."""
    if sorted_values.size == 0:
        return np.zeros(values.shape, dtype=bool)
    index = np.searchsorted(sorted_values, values).clip(max=sorted_values.size - 1)
    found: npt.NDArray[np.bool_] = sorted_values[index] == values
    return found


class ItemWriter:
    """Writes a snapshot's item lines and hashes them; past `cap` items, only counts them."""

    def __init__(self, directory: Path, cap: int | None) -> None:
        self.directory = directory
        self._out = open(directory / ITEMS, "wb")  # noqa: SIM115 - closed by finish()
        self._digests = bytearray()
        self._cap = cap
        self.count = 0
        self.over_cap = 0

    def add(self, line: str) -> None:
        if self._cap is not None and self.count >= self._cap:
            self.over_cap += 1
            return
        data = line.replace("\n", " ").replace("\r", " ").encode("utf-8", "replace")
        self._out.write(data + b"\n")
        self._digests += line_hash(data)
        self.count += 1

    def finish(self) -> Hashes:
        self._out.close()
        return _as_hashes(self._digests)

    def abort(self) -> None:
        self._out.close()


def read_lines(path: Path) -> Iterator[str]:
    with open(path, "rb") as source:
        for data in source:
            yield data[:-1].decode("utf-8", "replace")


@dataclass
class Base:
    """The last good snapshot of a feed."""

    directory: Path
    hashes: Hashes
    identities: Hashes

    def lines(self) -> Iterator[str]:
        return read_lines(self.directory / ITEMS)


class Workspace:
    """`<data>/feeds/<id>`: the base snapshot and the pulls being prepared."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def new_pull(self) -> Path:
        path = self.directory / f"pull-{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        return path

    def base(self, token: str | None) -> Base | None:
        """The base snapshot if it is the one the feed's state names (else None: lost, or from
        another server's data directory)."""
        directory = self.directory / "base"
        if token is None:
            return None
        try:
            meta = json.loads((directory / META).read_text())
            if meta.get("token") != token:
                return None
            return Base(
                directory,
                np.load(directory / HASHES).astype(np.uint64),
                np.load(directory / IDENTITIES).astype(np.uint64),
            )
        except (OSError, ValueError):
            return None

    def promote(self, pull: Path) -> None:
        """Make a finished pull the base (the old base goes)."""
        base = self.directory / "base"
        old = self.directory / f"old-{uuid.uuid4().hex}"
        if base.exists():
            base.rename(old)
        pull.rename(base)
        shutil.rmtree(old, ignore_errors=True)

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class NotModifiedPull:
    """The source said nothing changed (304, same file, same manifest)."""

    state: FeedState
    not_modified: bool = True
    full: bool = False
    fetched: int = 0
    over_cap: int = 0
    unchanged: int = 0

    def added(self) -> Iterator[Decoded]:
        return iter(())

    def removed(self) -> Iterator[IdentityKey]:
        return iter(())

    def holds(self, keys: Sequence[IdentityKey]) -> list[bool]:
        return [True] * len(keys)

    def usable(self) -> int:
        return self.state.usable

    def commit(self) -> str:
        return self.state.snapshot or ""

    def close(self) -> None:
        return None


@dataclass
class SnapshotPull:
    """A new snapshot, diffed against the base unless `full` (see the module docstring)."""

    workspace: Workspace
    directory: Path
    hashes: Hashes
    base: Base | None
    decode: Decode
    state: FeedState
    fetched: int
    over_cap: int
    not_modified: bool = False
    full: bool = field(init=False)
    unchanged: int = field(init=False)
    _identities: Hashes = field(init=False)
    _new: npt.NDArray[np.bool_] = field(init=False)
    _added_done: bool = field(init=False, default=False)
    _committed: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.full = self.base is None
        self._identities = np.zeros(self.hashes.shape, dtype=np.uint64)
        if self.base is None:
            self._new = np.ones(self.hashes.shape, dtype=bool)
            self.unchanged = 0
            return
        order = np.argsort(self.base.hashes, kind="stable")
        ordered = self.base.hashes[order]
        known = _member(ordered, self.hashes)
        if ordered.size:
            index = np.searchsorted(ordered, self.hashes[known])
            self._identities[known] = self.base.identities[order[index]]
        self._new = ~known
        self.unchanged = int(known.sum())

    def added(self) -> Iterator[Decoded]:
        new, identities = self._new, self._identities
        for position, line in enumerate(read_lines(self.directory / ITEMS)):
            if not new[position]:
                continue
            label, parsed = self.decode(line)
            if not isinstance(parsed, str):
                identities[position] = identity_hash(parsed.identity)
            yield label, parsed
        self._added_done = True

    def _sorted_identities(self) -> Hashes:
        if not self._added_done:
            raise RuntimeError("consume added() before asking what the snapshot holds")
        return np.sort(self._identities)

    def removed(self) -> Iterator[IdentityKey]:
        if self.base is None:
            return
        still = self._sorted_identities()
        gone = ~_member(np.sort(self.hashes), self.base.hashes)
        if not gone.any():
            return
        seen: set[IdentityKey] = set()
        for position, line in enumerate(self.base.lines()):
            if not gone[position]:
                continue
            _, parsed = self.decode(line)
            if isinstance(parsed, str):
                continue
            key = parsed.identity
            if key in seen:
                continue
            seen.add(key)
            if not _member(still, np.array([identity_hash(key)], dtype=np.uint64))[0]:
                yield key

    def holds(self, keys: Sequence[IdentityKey]) -> list[bool]:
        still = self._sorted_identities()
        asked = np.array([identity_hash(k) for k in keys], dtype=np.uint64)
        return [bool(b) for b in _member(still, asked)]

    def usable(self) -> int:
        self._sorted_identities()
        return int(np.count_nonzero(self._identities))

    def commit(self) -> str:
        self._sorted_identities()
        token = uuid.uuid4().hex
        np.save(self.directory / HASHES, self.hashes)
        np.save(self.directory / IDENTITIES, self._identities)
        (self.directory / META).write_text(json.dumps({"token": token}))
        self.workspace.promote(self.directory)
        self._committed = True
        self.state = replace(self.state, snapshot=token)
        return token

    def close(self) -> None:
        if not self._committed:
            shutil.rmtree(self.directory, ignore_errors=True)
