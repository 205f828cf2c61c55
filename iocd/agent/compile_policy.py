"""The compile process: the agent's policy work that needs Arrow, in a short-lived process.

    python -P -m iocd.agent.compile_policy < job.json

The agent's own process never imports pyarrow (iocd.agent.compiler starts this one). A job names
the cache folder and gives a manifest, or has this process read the folder's (policy_cache: a
snapshot file, its sequence value and digest, the deltas after it, and the sequence value and
digest they lead to). This process

1. reads the snapshot file one Arrow record batch at a time: each batch's entry hashes are
   computed column-wise (the digest is their XOR) and the batch is folded into the index
   builder (matching.part_build), then dropped; the digest is checked before the index is
   compiled;
2. applies the deltas, each checked by its digest (`Policy.with_delta`), and checks the result
   against the manifest's sequence value and digest;
3. folds the changes into one new index (a build from the index's columns: no Python object per
   indicator) and writes it to the folder for the agent to map (iocd.agent.compiled);
4. when the job says `rewrite`, also writes that index as a new snapshot file (the cache's
   compaction), for the agent to commit.

It answers one JSON line on stdout: `{"ok": true, "sequence", "digest", "base", "deltas",
"indicators", "snapshot", "peak"}` (the snapshot file and the number of deltas it compiled, the
snapshot file it wrote if any, and this process's peak resident memory in MiB), or `{"ok": false,
"refused": "digest" | "protocol", ...}` when the snapshot, a delta or the manifest does not
verify. Anything else (a crash) exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from iocd.agent.compiled import save_compiled
from iocd.agent.compiler import MANIFEST
from iocd.agent.files import read_json, write_atomic
from iocd.agent.memory import release_memory, resident_memory, use_system_allocator
from iocd.agent.policy import DigestMismatch, Policy
from iocd.agent.protocol import Delta, ProtocolError, batch_digest, digest_text, snapshot_batches
from iocd.matching.index import Part
from iocd.matching.part_build import PartBuilder
from iocd.matching.part_export import part_batch
from iocd.matching.snapshot import encode_snapshot, listed_to_batch

__all__ = ["compile_job", "policy_snapshot", "snapshot_policy"]


def snapshot_policy(data: bytes, sequence: int, expected_digest: str) -> Policy:
    """The policy of a snapshot stream, streamed by record batch and verified by its digest
    before the index is compiled (DigestMismatch, ProtocolError)."""
    builder = PartBuilder(between_stages=partial(release_memory, collect=False))
    hashes = 0
    try:
        for batch in snapshot_batches(data):  # one record batch at a time, none kept
            hashes ^= batch_digest(batch)
            builder.add(batch)
    except (KeyError, ValueError, TypeError) as error:  # an unknown type, action, ...
        raise ProtocolError(f"not a policy snapshot: {error}") from error
    digest = digest_text(hashes)
    if digest != expected_digest.lower():
        raise DigestMismatch(expected_digest.lower(), digest)
    release_memory(collect=False)  # the decoded batches
    return Policy.from_part(Part.from_data(builder.finish()), sequence, digest)


def folded(policy: Policy) -> Part:
    """One part holding every entry of `policy` (its base, when it has no overlay)."""
    index = policy.index
    if not index.overlay_size:
        return index.base
    skipped = list(policy.skipped.values())
    batches = [*index.to_batches(), *([listed_to_batch(skipped)] if skipped else [])]
    return Part.from_batches(batches)


def policy_snapshot(part: Part) -> bytes:
    """A snapshot stream of every entry of a folded part (from its columns)."""
    batches = [part_batch(part)]
    if part.skipped:
        batches.append(listed_to_batch(part.skipped))
    return encode_snapshot(batches)


def _replayed(folder: Path, manifest: dict[str, Any]) -> Policy:
    """The manifest's snapshot and deltas, verified, as a policy (an index with an overlay)."""
    try:
        data = (folder / str(manifest["snapshot"])).read_bytes()
        policy = snapshot_policy(
            data, int(manifest["snapshotSequence"]), str(manifest["snapshotDigest"])
        )
        del data
        for raw in manifest["deltas"]:
            policy = policy.with_delta(Delta.from_wire(raw))
        expected = (int(manifest["sequence"]), str(manifest["digest"]))
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ProtocolError(f"unusable policy cache: {error!r}") from error
    if (policy.sequence, policy.digest) != expected:
        raise DigestMismatch(expected[1], policy.digest)
    return policy


def compile_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job (see the module text) and give the answer to print."""
    folder = Path(job["folder"])
    manifest = job.get("manifest") or read_json(folder / MANIFEST)
    try:
        if not isinstance(manifest, dict):
            raise ProtocolError("unreadable manifest")
        policy = _replayed(folder, manifest)
    except DigestMismatch as error:
        return {"ok": False, "refused": "digest", "expected": error.expected, "found": error.found}
    except ProtocolError as error:
        return {"ok": False, "refused": "protocol", "message": str(error)}
    part = folded(policy)
    del policy
    release_memory()
    snapshot = None
    if job.get("rewrite"):
        snapshot = f"snapshot-{manifest['sequence']}-{time.time_ns()}.arrow"
        write_atomic(folder / snapshot, policy_snapshot(part))
    described = {"sequence": int(manifest["sequence"]), "digest": str(manifest["digest"])}
    save_compiled(folder / str(job["out"]), part, described)
    return {
        "ok": True,
        **described,
        "base": str(manifest["snapshot"]),
        "deltas": len(manifest["deltas"]),
        "indicators": part.size + len(part.skipped),
        "snapshot": snapshot,
        "peak": resident_memory().get("VmHWM", 0.0),
    }


def main() -> None:
    use_system_allocator()  # what a stage frees goes back to the system (agent.memory)
    answer = compile_job(json.loads(sys.stdin.read()))
    sys.stdout.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
