"""Policy entries: the canonical line of one entry, its hash, and XOR digests of views.

See matching.snapshot for what a view and its digest are. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from iocd.domain.decision import Authority, ListedIndicator

EMPTY_DIGEST = "0" * 64
AUTHORITY_TEXT = {Authority.ORGANISATION: "organisation", Authority.GROUP: "group"}
AUTHORITY_OF = {text: authority for authority, text in AUTHORITY_TEXT.items()}


def entry_line(listed: ListedIndicator) -> str:
    """The canonical text of one entry: what its hash is taken over."""
    return (
        f"{listed.id}|{listed.indicator_type.value}|{listed.value}|{listed.action.value}|"
        f"{','.join(sorted(listed.groups))}|{AUTHORITY_TEXT[listed.authority]}|"
        f"{int(listed.overridden)}|{int(listed.generate_alert)}"
    )


def entry_hash(listed: ListedIndicator) -> bytes:
    return hashlib.sha256(entry_line(listed).encode()).digest()


def xor_digest(hashes: Iterable[bytes] | bytes) -> str:
    """The XOR of 32-byte entry hashes (given one by one, or concatenated) as 64 hex digits."""
    data = hashes if isinstance(hashes, bytes | bytearray) else b"".join(hashes)
    if len(data) % 32:
        raise ValueError("entry hashes are 32 bytes each")
    if not data:
        return EMPTY_DIGEST
    words = np.frombuffer(data, dtype=np.uint64).reshape(-1, 4)
    return bytes(np.bitwise_xor.reduce(words, axis=0).tobytes()).hex()


def combine(*digests: str) -> str:
    """The XOR of digests (the digest of the union of disjoint views)."""
    total = 0
    for digest in digests:
        total ^= int(digest, 16)
    return f"{total:064x}"
