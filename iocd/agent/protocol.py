"""The policy as the agent protocol carries it: Arrow snapshots, JSON deltas, and the digest.

The encoding is the server's own, `iocd.matching.snapshot` (pure, shipped with the agent): the
digest of a policy is the XOR of the SHA-256 of each entry's canonical line, as 64 hex digits
(`"0" * 64` for an empty policy). XOR makes it incremental: taking an entry out and putting one
in are the same operation on the digest (`entry_hash`). This module adapts it to what the agent
needs: entry hashes as integers, a `Delta` value, and one error type for anything malformed.

Deltas and digests need no Arrow (matching.delta, matching.entries); the snapshot functions
import pyarrow when called, which only the compile process (iocd.agent.compile_policy) and
tests do: the agent's own process never loads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iocd.domain.decision import ListedIndicator
from iocd.errors import InvalidInput
from iocd.matching import delta as wire_delta
from iocd.matching import entries

if TYPE_CHECKING:
    import pyarrow as pa

EMPTY_DIGEST = entries.EMPTY_DIGEST
entry_line = entries.entry_line


class ProtocolError(ValueError):
    """The server (or the cache) holds something the protocol does not allow."""


def entry_hash(indicator: ListedIndicator) -> int:
    """The entry's contribution to the digest (XOR it in to add, XOR it again to take out)."""
    return int.from_bytes(entries.entry_hash(indicator), "big")


def digest_text(value: int) -> str:
    return f"{value:064x}"


def digest_of(indicators: Iterable[ListedIndicator]) -> str:
    return entries.xor_digest(entries.entry_hash(i) for i in indicators)


def snapshot_digest(data: bytes) -> str:
    """The digest of the entries of a snapshot, computed column-wise."""
    from iocd.matching import snapshot as wire

    try:
        return wire.snapshot_digest(data)
    except (InvalidInput, ValueError, OSError) as error:
        raise ProtocolError(f"not a policy snapshot: {error}") from error


def snapshot_batches(data: bytes) -> Iterator[pa.RecordBatch]:
    """The record batches of a snapshot stream, read one at a time; ProtocolError when it is
    not one."""
    from iocd.matching import snapshot as wire

    try:
        yield from wire.decode_snapshot(data)
    except (InvalidInput, ValueError, OSError) as error:
        raise ProtocolError(f"not a policy snapshot: {error}") from error


def batch_digest(batch: pa.RecordBatch) -> int:
    """The XOR of the entry hashes of one snapshot batch (computed column-wise)."""
    from iocd.matching import snapshot as wire

    return int(wire.xor_digest(wire.batch_hashes(batch)), 16)


def read_snapshot(data: bytes) -> list[ListedIndicator]:
    """The entries of an Arrow IPC stream snapshot; raises ProtocolError when it is not one."""
    from iocd.matching import snapshot as wire

    try:
        return list(wire.snapshot_listed(data))
    except (InvalidInput, ValueError, KeyError, OSError) as error:
        raise ProtocolError(f"not a policy snapshot: {error}") from error


def write_snapshot(indicators: Iterable[ListedIndicator]) -> bytes:
    """A snapshot of `indicators` (tests, and a stand-in server)."""
    from iocd.matching import snapshot as wire

    return wire.encode_snapshot([wire.listed_to_batch(list(indicators))])


def listed_to_upsert(indicator: ListedIndicator) -> dict[str, Any]:
    return wire_delta.entry_to_wire(indicator)


@dataclass(frozen=True, slots=True)
class Delta:
    """The changes after some sequence value, and the digest of the policy they lead to."""

    sequence: int
    digest: str
    upserts: tuple[ListedIndicator, ...]
    removals: tuple[int, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Delta:
        try:
            update = wire_delta.update_from_wire(data)
        except InvalidInput as error:
            raise ProtocolError(str(error)) from error
        if update.kind != wire_delta.DELTA or update.digest is None:
            raise ProtocolError(f"not a delta: {update.kind}")
        return cls(update.sequence, update.digest.lower(), update.upserts, update.removals)

    def to_wire(self) -> dict[str, Any]:
        update = wire_delta.PolicyUpdate(
            wire_delta.DELTA, self.sequence, self.digest, self.upserts, self.removals
        )
        return wire_delta.update_to_wire(update)
