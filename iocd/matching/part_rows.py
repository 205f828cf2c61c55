"""The indicators of many rows of a part at once: what a scan's first matches need.

`Part.fresh` makes one row's `ListedIndicator` (the single-event matcher of the agent). A scan
that starts with nothing remembered meets tens of thousands of indicators in its first batches,
each decided once; making them one row at a time costs more than deciding them. `listed_rows`
gathers the rows' columns with numpy and their value texts table by table (`row_values`), and
leaves Python only the object itself; `listed_in_chunks` does it for every row of a part
(`CompiledIndex.indicators`). tests/matching holds both equal to `Part.fresh`. Pure.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.types import IndicatorType
from iocd.matching.compile import IntArray
from iocd.matching.part_data import ACTIONS, ALERT, AUTHORITY, HTTPS, OVERRIDDEN, TYPES

if TYPE_CHECKING:
    from iocd.matching.index import Part

__all__ = ["CHUNK", "listed_in_chunks", "listed_rows", "row_values"]

CHUNK = 65_536
"""Rows made at a time when every row of a part is asked for (`listed_in_chunks`)."""


def row_values(part: Part, rows: IntArray) -> list[str]:
    """The value text of each of `rows` (what `Part.value_of` answers for one row)."""
    out = [""] * len(rows)
    types = part.types[rows]
    for code in np.unique(types).tolist():
        at = np.flatnonzero(types == code)
        local = rows[at]
        for position, text in zip(at.tolist(), _texts(part, TYPES[code], local), strict=True):
            out[position] = text
    return out


def _texts(part: Part, kind: IndicatorType, rows: IntArray) -> list[str]:
    """The value texts of `rows`, all of type `kind`."""
    table = part.exact.get(kind)
    if table is not None:
        value = np.searchsorted(table.starts, rows - table.row0, side="right") - 1
        text = binascii.hexlify(table.values[value].tobytes()).decode("ascii")
        width = 2 * table.width
        return [text[at : at + width] for at in range(0, len(text), width)]
    if kind is IndicatorType.IP_ADDRESS:
        return part.ip_texts.take(rows - part.ip_row0).tolist()
    names = part.domains if kind is IndicatorType.DOMAIN_NAME else part.urls
    assert names is not None
    value = np.searchsorted(names.starts, rows - names.row0, side="right") - 1
    texts = [names.name(v) for v in value.tolist()]
    if kind is not IndicatorType.URL:
        return texts
    https = (part.flags[rows] & HTTPS != 0).tolist()
    return [("https://" if s else "http://") + t for s, t in zip(https, texts, strict=True)]


def listed_rows(part: Part, rows: IntArray) -> list[ListedIndicator]:
    """A fresh `ListedIndicator` for each of `rows` (what `Part.fresh` makes for one row)."""
    scope_sets = part.scope_sets
    columns = zip(
        part.ids[rows].tolist(),
        part.types[rows].tolist(),
        row_values(part, rows),
        part.actions[rows].tolist(),
        part.scopes[rows].tolist(),
        part.flags[rows].tolist(),
        part.sequences[rows].tolist(),
        strict=True,
    )
    return [
        ListedIndicator(
            ident,
            TYPES[kind],
            value,
            ACTIONS[action],
            scope_sets[scope],
            Authority.ORGANISATION if flags & AUTHORITY else Authority.GROUP,
            bool(flags & OVERRIDDEN),
            bool(flags & ALERT),
            sequence,
        )
        for ident, kind, value, action, scope, flags, sequence in columns
    ]


def listed_in_chunks(part: Part, rows: IntArray) -> Iterator[ListedIndicator]:
    """`listed_rows` of many rows, CHUNK at a time (a whole list is not held at once)."""
    for start in range(0, len(rows), CHUNK):
        yield from listed_rows(part, rows[start : start + CHUNK])
