"""What a compiled part is made of, without Arrow: the row codes, the flag bits, `PartData` (a
part's arrays and tables in row order) and `TextColumn` (strings as bytes and offsets).

Both builders fill a `PartData`: `part_build.PartBuilder` from Arrow batches (the server, and
the agent's compile process), `part_listed` from a few `ListedIndicator`s (an overlay, with
numpy only). A `PartData` holds numpy arrays and plain values only, so a process that never
imports pyarrow (the agent) can load, match and change an index. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType
from iocd.matching.cidrs import CidrTable
from iocd.matching.compile import ByteArray, ExactTable, IntArray
from iocd.matching.names import NameTable

__all__ = [
    "ACTIONS",
    "ACTION_CODE",
    "ALERT",
    "AUTHORITY",
    "HASH_WIDTHS",
    "HTTPS",
    "NONE",
    "OVERRIDDEN",
    "TYPES",
    "TYPE_CODE",
    "PartData",
    "TextColumn",
    "code_dtype",
    "narrow",
]

HASH_WIDTHS = {
    IndicatorType.FILE_SHA256: 32,
    IndicatorType.FILE_SHA1: 20,
    IndicatorType.FILE_MD5: 16,
    IndicatorType.CERTIFICATE_THUMBPRINT: 20,
}
"""Fixed-width value types, in the order their rows come first in a part."""
TYPES = tuple(IndicatorType)
TYPE_CODE = {t: code for code, t in enumerate(TYPES)}
ACTIONS = tuple(Action)
ACTION_CODE = {a: code for code, a in enumerate(ACTIONS)}
AUTHORITY, OVERRIDDEN, ALERT, HTTPS = 1, 2, 4, 8
"""Bits of a row's flags: organisation authority, override, generate alert, an https URL."""
NONE = np.zeros(0, dtype=np.int64)


def narrow(values: Any) -> Any:
    """Integers as int32 when they all fit (ids, sequence values, positions), else int64."""
    if len(values) and (int(values.min()) < -(2**31) or int(values.max()) >= 2**31):
        return values.astype(np.int64, copy=False)
    return values.astype(np.int32, copy=False)


def code_dtype(count: int) -> Any:
    """The smallest unsigned type for codes below `count`."""
    return np.uint8 if count <= 1 << 8 else np.uint16 if count <= 1 << 16 else np.int32


@dataclass(frozen=True, eq=False)
class TextColumn:
    """Strings as UTF-8 bytes end to end: string `i` is `data[offsets[i]:offsets[i + 1]]`
    (offsets from 0, one more than the strings). No Python object per string until one is
    read (`column[i]`)."""

    data: ByteArray
    offsets: Any  # int32, or int64 past 2 GiB
    _views: tuple[memoryview, memoryview] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        views = (memoryview(np.ascontiguousarray(self.offsets).data), memoryview(self.data.data))
        object.__setattr__(self, "_views", views)

    @classmethod
    def of(cls, texts: Sequence[str]) -> TextColumn:
        encoded = [text.encode() for text in texts]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return cls(data, narrow(offsets))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, at: int) -> str:
        offsets, data = self._views
        return str(data[offsets[at] : offsets[at + 1]], "utf-8")

    def tolist(self) -> list[str]:
        """Every string (a Python object each)."""
        text = bytes(self.data).decode("utf-8", "surrogateescape")
        bounds = self.offsets.tolist()
        if len(text) == len(self.data):  # ASCII: byte offsets are character offsets
            return [text[bounds[at] : bounds[at + 1]] for at in range(len(self))]
        return [self[at] for at in range(len(self))]

    def take(self, rows: IntArray) -> TextColumn:
        """The strings at `rows`, in that order (gathered with numpy)."""
        starts = self.offsets[rows].astype(np.int64)
        lengths = self.offsets[rows + 1].astype(np.int64) - starts
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        at = np.repeat(starts - offsets[:-1], lengths) + np.arange(int(offsets[-1]))
        return TextColumn(self.data[at], narrow(offsets))

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes + self.offsets.nbytes)


EMPTY_TEXTS = TextColumn(np.zeros(0, dtype=np.uint8), np.zeros(1, dtype=np.int32))


@dataclass
class PartData:
    """A compiled part in row order (see index.Part for what each field means)."""

    exact: dict[IndicatorType, ExactTable]
    ip_row0: int
    ip: ExactTable | None
    cidrs: CidrTable | None
    ip_texts: TextColumn
    domains: NameTable | None
    urls: NameTable | None
    ids: Any  # int32 when every id fits, else int64 (see `narrow`); so are sequences
    sequences: Any
    types: Any
    actions: Any
    flags: Any
    scopes: Any
    scope_sets: tuple[frozenset[str], ...]
    skipped: list[ListedIndicator]
    id_order: Any = None
    """Rows by id (int32), when known already (a saved part); else the part sorts them."""
