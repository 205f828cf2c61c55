"""The last good policy on disk, so the agent enforces it from the first second after a restart
and while the server is unreachable.

Layout of the cache folder::

    manifest.json           {"snapshot": file, "snapshotSequence", "snapshotDigest",
                             "deltas": [delta, ...], "sequence", "digest"}
    snapshot-<seq>-<n>.arrow the snapshot as the server sent it (Arrow IPC stream)

The manifest is the single commit point: a new snapshot file is written (atomically) before the
manifest that names it, and each applied delta is a new manifest (temp + fsync + rename). At start
`load` has the compile process (iocd.agent.compiler) recompute the digest of the snapshot and of
every delta, and compile the result; anything unreadable or not matching its digest discards
the whole cache (`load` returns None and the agent fetches a snapshot). A new snapshot goes the
same way (`compile_snapshot`, then `commit`). When the deltas pile up (`COMPACT_AFTER` entries)
the agent has the compile process write the policy as a new snapshot file (`compile_fold` with
`rewrite`) and commits it with the deltas recorded meanwhile (`commit_fold`).

The compile process also leaves a `compiled-*.npz` here for the agent to map; the agent removes
it as soon as it is mapped.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iocd.agent.compiler import (
    COMPILED_PREFIX,
    MANIFEST,
    Compiled,
    CompileFailed,
    Figures,
    compile_manifest,
)
from iocd.agent.files import private_dir, read_json, write_atomic
from iocd.agent.memory import release_memory
from iocd.agent.policy import DigestMismatch, Policy
from iocd.agent.protocol import Delta, ProtocolError, listed_to_upsert

__all__ = ["COMPACT_AFTER", "CompileFailed", "Compiled", "PolicyCache", "delta_text"]

log = logging.getLogger(__name__)

COMPACT_AFTER = 20_000
"""Upserts plus removals kept as deltas before the cache is rewritten as one snapshot."""
STALE_AFTER = 600.0
"""Seconds after which a file the manifest does not name is left over (a crash) and removed."""

_counter = itertools.count()


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def delta_text(delta: Delta) -> str:
    """`delta.to_wire()` as compact JSON, one entry at a time (no dict kept per entry)."""
    upserts = ",".join(_text(listed_to_upsert(i)) for i in delta.upserts)
    head = _text({"kind": "delta", "sequence": delta.sequence, "digest": delta.digest})
    return (
        f'{head[:-1]},"removals":{_text([str(i) for i in delta.removals])},"upserts":[{upserts}]}}'
    )


def _manifest_pieces(head: dict[str, Any], deltas: list[str]) -> Iterator[bytes]:
    """The manifest's JSON, a delta at a time (never joined into one text)."""
    yield f'{_text(head)[:-1]},"deltas":['.encode()
    for at, text in enumerate(deltas):
        yield (f",{text}" if at else text).encode()
    yield b"]}"


class PolicyCache:
    """The cache folder and, in memory, its manifest: the fields as a dict, the deltas as the
    compact JSON text of each (a third of their size as dicts)."""

    def __init__(self, folder: Path, compact_after: int = COMPACT_AFTER) -> None:
        self.folder = folder
        self.compact_after = compact_after
        self._head: dict[str, Any] | None = None
        self._deltas: list[str] = []
        self._counts: list[int] = []  # upserts plus removals of each delta
        self.last: Figures | None = None
        """What the last compile cost (the benchmark reads it)."""

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    @property
    def pending_changes(self) -> int:
        """Upserts plus removals recorded as deltas since the cache's snapshot."""
        return sum(self._counts)

    def load(self) -> Policy | None:
        """The cached policy, verified by digest; None (and the cache discarded) otherwise.
        A compile process that fails leaves the cache as it is (and gives None)."""
        manifest = read_json(self.manifest_path)
        if not isinstance(manifest, dict):
            if self.manifest_path.exists():
                log.warning("policy cache: unreadable manifest; discarding the cache")
                self.discard()
            return None
        self._sweep(str(manifest.get("snapshot")))
        try:
            compiled = compile_manifest(self.folder, manifest)
        except (DigestMismatch, ProtocolError) as error:
            log.warning("policy cache: %s; discarding the cache", error)
            self.discard()
            return None
        except CompileFailed as error:
            log.error("policy cache: %s", error)
            return None
        deltas = manifest.pop("deltas")
        self._adopt(
            manifest,
            [delta_text(Delta.from_wire(raw)) for raw in deltas],
            [len(raw["upserts"]) + len(raw["removals"]) for raw in deltas],
        )
        del deltas
        self.last = compiled.figures
        release_memory()
        return compiled.policy

    def download_path(self) -> Path:
        """A new file in the folder to download a snapshot into (not part of the cache yet)."""
        private_dir(self.folder)
        return self.folder / f".download-{time.time_ns()}-{next(_counter)}"

    def compile_snapshot(self, path: Path, sequence: int, digest: str) -> Compiled:
        """Verify and compile the snapshot in `path` (in the folder, flushed to disk). It is
        the cache's base only once `commit`ted; removed when it does not verify."""
        name = f"snapshot-{sequence}-{time.time_ns()}-{next(_counter)}.arrow"
        os.replace(path, self.folder / name)
        manifest = {
            "snapshot": name,
            "snapshotSequence": sequence,
            "snapshotDigest": digest.lower(),
            "deltas": [],
            "sequence": sequence,
            "digest": digest.lower(),
        }
        try:
            compiled = compile_manifest(self.folder, manifest)
        except BaseException:
            (self.folder / name).unlink(missing_ok=True)
            raise
        self.last = compiled.figures
        return compiled

    def save_snapshot(self, data: bytes, sequence: int, digest: str) -> Policy:
        """Keep `data` (a snapshot) as the new base of the cache; the policy it holds."""
        path = self.download_path()
        write_atomic(path, data)
        compiled = self.compile_snapshot(path, sequence, digest)
        self.commit(compiled)
        return compiled.policy

    def commit(self, compiled: Compiled) -> None:
        """Make a compiled snapshot the cache's base (its deltas start again)."""
        policy = compiled.policy
        head = {
            "snapshot": compiled.base,
            "snapshotSequence": policy.sequence,
            "snapshotDigest": policy.digest,
            "sequence": policy.sequence,
            "digest": policy.digest,
        }
        self._commit(head, [], [])

    def save_delta(self, delta: Delta, policy: Policy) -> None:
        """Record `delta`, already applied to give `policy`."""
        if self._head is None:  # no snapshot to record it after (never so in the agent)
            log.warning("policy cache: no snapshot to record delta %d after", delta.sequence)
            return
        head = {**self._head, "sequence": policy.sequence, "digest": policy.digest}
        count = len(delta.upserts) + len(delta.removals)
        self._commit(head, [*self._deltas, delta_text(delta)], [*self._counts, count])

    def compile_fold(self, rewrite: bool) -> Compiled:
        """The cache's policy now (its manifest file), folded into one index by the compile
        process (and, with `rewrite`, written as a new snapshot file, for `commit_fold`)."""
        if self._head is None:
            raise CompileFailed("no cached policy to fold")
        compiled = compile_manifest(self.folder, rewrite=rewrite)
        self.last = compiled.figures
        return compiled

    def is_base(self, compiled: Compiled) -> bool:
        """Whether `compiled` was made from the cache's snapshot now (not one replaced since)."""
        return self._head is not None and compiled.base == self._head["snapshot"]

    def since(self, compiled: Compiled) -> list[Delta]:
        """The deltas recorded after those `compiled` holds (from the same snapshot)."""
        return [Delta.from_wire(json.loads(text)) for text in self._deltas[compiled.deltas :]]

    def commit_fold(self, compiled: Compiled) -> None:
        """Make the snapshot a fold wrote the cache's base, keeping the deltas after it."""
        if compiled.snapshot is None or self._head is None:
            return
        head = {
            **self._head,
            "snapshot": compiled.snapshot,
            "snapshotSequence": compiled.policy.sequence,
            "snapshotDigest": compiled.policy.digest,
        }
        done = compiled.deltas
        self._commit(head, self._deltas[done:], self._counts[done:])

    def forget(self, compiled: Compiled) -> None:
        """Remove the snapshot file of a compile that will not be committed."""
        if compiled.snapshot is not None:
            (self.folder / compiled.snapshot).unlink(missing_ok=True)

    def discard(self) -> None:
        self._adopt(None, [], [])
        if not self.folder.is_dir():
            return
        for item in self.folder.iterdir():
            with contextlib.suppress(OSError):
                item.unlink()

    def _adopt(self, head: dict[str, Any] | None, deltas: list[str], counts: list[int]) -> None:
        self._head, self._deltas, self._counts = head, deltas, counts

    def _commit(self, head: dict[str, Any], deltas: list[str], counts: list[int]) -> None:
        previous = self._head
        # written a delta at a time; write_atomic fsyncs the folder too (a new snapshot's name)
        write_atomic(self.manifest_path, _manifest_pieces(head, deltas))
        self._adopt(head, deltas, counts)
        if previous is not None and previous["snapshot"] != head["snapshot"]:
            with contextlib.suppress(OSError):
                (self.folder / str(previous["snapshot"])).unlink()

    def _sweep(self, snapshot: str) -> None:
        """Remove what a crash left: downloads, snapshots the manifest does not name, compiled
        files (only old ones: another command may be compiling the same cache now)."""
        keep = {snapshot, self.manifest_path.name}
        stale = time.time() - STALE_AFTER
        for item in self.folder.iterdir():
            if item.name in keep:
                continue
            with contextlib.suppress(OSError):
                if item.name.startswith((".", COMPILED_PREFIX, "snapshot-")) and (
                    item.stat().st_mtime < stale
                ):
                    item.unlink()
