"""The last good policy on disk, so the agent enforces it from the first second after a restart
and while the server is unreachable.

Layout of the cache folder::

    manifest.json           {"snapshot": file, "snapshotSequence", "snapshotDigest",
                             "deltas": [delta, ...], "sequence", "digest"}
    snapshot-<seq>-<n>.arrow the snapshot as the server sent it (Arrow IPC stream)

The manifest is the single commit point: a new snapshot file is written (atomically) before the
manifest that names it, and each applied delta is a new manifest (temp + fsync + rename). At start
`load` recomputes the digest of the snapshot and of every delta; anything unreadable or not
matching its digest discards the whole cache (`load` returns None and the agent fetches a
snapshot). When the deltas pile up (`COMPACT_AFTER` entries), the current policy is written as a
new snapshot file and the delta list starts again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from pathlib import Path
from typing import Any

from iocd.agent.files import private_dir, read_json, write_atomic, write_json
from iocd.agent.memory import release_memory
from iocd.agent.policy import DigestMismatch, Policy
from iocd.agent.protocol import Delta, ProtocolError

log = logging.getLogger(__name__)

COMPACT_AFTER = 20_000
"""Upserts plus removals kept as deltas before the cache is rewritten as one snapshot."""

_counter = itertools.count()


class PolicyCache:
    def __init__(self, folder: Path, compact_after: int = COMPACT_AFTER) -> None:
        self.folder = folder
        self.compact_after = compact_after
        self._manifest: dict[str, Any] | None = None

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def load(self) -> Policy | None:
        """The cached policy, verified by digest; None (and the cache discarded) otherwise."""
        manifest = read_json(self.manifest_path)
        if manifest is None:
            if self.manifest_path.exists():
                log.warning("policy cache: unreadable manifest; discarding the cache")
                self.discard()
            return None
        try:
            snapshot = (self.folder / str(manifest["snapshot"])).read_bytes()
            policy = Policy.from_snapshot_bytes(
                snapshot, int(manifest["snapshotSequence"]), str(manifest["snapshotDigest"])
            )
            for raw in manifest["deltas"]:
                policy = policy.with_delta(Delta.from_wire(raw))
            if policy.digest != manifest["digest"] or policy.sequence != manifest["sequence"]:
                raise DigestMismatch(str(manifest["digest"]), policy.digest)
        except (OSError, KeyError, TypeError, ValueError, ProtocolError, DigestMismatch) as error:
            log.warning("policy cache: %s; discarding the cache", error)
            self.discard()
            return None
        self._manifest = manifest
        del snapshot
        release_memory()
        return policy

    def save_snapshot(self, data: bytes, policy: Policy) -> None:
        """Keep `data` (the snapshot `policy` was compiled from) as the new base of the cache."""
        private_dir(self.folder)
        name = f"snapshot-{policy.sequence}-{time.time_ns()}-{next(_counter)}.arrow"
        write_atomic(self.folder / name, data)
        self._commit(
            {
                "snapshot": name,
                "snapshotSequence": policy.sequence,
                "snapshotDigest": policy.digest,
                "deltas": [],
                "sequence": policy.sequence,
                "digest": policy.digest,
            }
        )

    def save_delta(self, delta: Delta, policy: Policy) -> None:
        """Record `delta`, already applied to give `policy`."""
        manifest = self._manifest
        if manifest is None:
            self.save_snapshot(policy.snapshot(), policy)
            return
        deltas = [*manifest["deltas"], delta.to_wire()]
        if sum(len(d["upserts"]) + len(d["removals"]) for d in deltas) > self.compact_after:
            self.save_snapshot(policy.snapshot(), policy)
            return
        self._commit(
            {**manifest, "deltas": deltas, "sequence": policy.sequence, "digest": policy.digest}
        )

    def discard(self) -> None:
        self._manifest = None
        if not self.folder.is_dir():
            return
        for item in self.folder.iterdir():
            with contextlib.suppress(OSError):
                item.unlink()

    def _commit(self, manifest: dict[str, Any]) -> None:
        write_json(self.manifest_path, manifest)
        self._manifest = manifest
        keep = {manifest["snapshot"], self.manifest_path.name}
        for item in self.folder.glob("snapshot-*.arrow"):
            if item.name not in keep:
                with contextlib.suppress(OSError):
                    item.unlink()
