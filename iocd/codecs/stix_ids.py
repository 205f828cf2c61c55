"""From a STIX id back to the iocd indicator it was derived from.

`stix_export.stix_id` derives the id from the indicator id through a hash (uuid5), which keeps
exported ids stable but cannot be reversed. The directory reverses it by computing the ids of
every indicator id once and keeping them sorted: 16 bytes per indicator (the first 64 bits of
each UUID and the indicator id, in numpy arrays), about a second of hashing per million ids,
done on the first lookup and then only for ids allocated since (ids are allocated in order and
never reused). A match on 64 bits is confirmed against the full id.
"""

from __future__ import annotations

import hashlib
import threading
import uuid

import numpy as np

from iocd.codecs.stix_export import STIX_NAMESPACE, stix_id

PREFIX = "indicator--"
_NAMESPACE = STIX_NAMESPACE.bytes


def _keys(first: int, last: int) -> np.ndarray:
    """The first 64 bits of the STIX UUIDs of ids first..last, as stix_id makes them (uuid5 of
    the name, then the version nibble set to 4)."""
    sha1, namespace = hashlib.sha1, _NAMESPACE
    heads = b"".join(
        sha1(namespace + b"iocd-indicator:%d" % n).digest()[:8] for n in range(first, last + 1)
    )
    keys = np.frombuffer(heads, dtype=">u8").astype(np.uint64)
    return (keys & np.uint64(~0xF000 & 0xFFFFFFFFFFFFFFFF)) | np.uint64(0x4000)


def key_of(stix: str) -> int | None:
    """The first 64 bits of an indicator STIX id, or None if it is not one."""
    if not stix.startswith(PREFIX):
        return None
    try:
        parsed = uuid.UUID(stix.removeprefix(PREFIX))
    except ValueError:
        return None
    return int.from_bytes(parsed.bytes[:8])


class StixIdDirectory:
    """Thread-safe; grows on demand up to the newest indicator id it is told of."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys = np.empty(0, dtype=np.uint64)
        self._ids = np.empty(0, dtype=np.int64)
        self._through = 0

    @staticmethod
    def stix_id(indicator_id: int) -> str:
        return stix_id(indicator_id)

    def indicator_id(self, stix: str, newest_id: int) -> int | None:
        key = key_of(stix)
        if key is None:
            return None
        with self._lock:
            if self._through < newest_id:
                self._extend(newest_id)
            keys, ids = self._keys, self._ids
        start = int(np.searchsorted(keys, np.uint64(key), side="left"))
        for position in range(start, len(keys)):
            if int(keys[position]) != key:
                break
            candidate = int(ids[position])
            if stix_id(candidate) == stix.lower():
                return candidate
        return None

    def _extend(self, newest_id: int) -> None:
        new_ids = np.arange(self._through + 1, newest_id + 1, dtype=np.int64)
        new_keys = _keys(self._through + 1, newest_id)
        keys = np.concatenate([self._keys, new_keys])
        ids = np.concatenate([self._ids, new_ids])
        order = np.argsort(keys, kind="stable")
        self._keys, self._ids, self._through = keys[order], ids[order], newest_id
