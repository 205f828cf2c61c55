"""Compiling a part from a few `ListedIndicator`s with numpy and Python only (no Arrow): the
overlay of an index (the changes since its base), and any small list.

It gives the same `PartData` as `part_build.PartBuilder` given the same indicators as one
batch (tests/matching check this): the same row order (hash types, addresses then CIDR blocks,
domains, URLs; within a table rows grouped by value), the same codes and flags, and the same
values skipped. What differs is only how values are read: one at a time in Python here
(`bytes.fromhex`, `ip_packed`, `cidr`), vectorised over Arrow columns there. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.types import IndicatorType
from iocd.matching.addresses import cidr, ip_packed
from iocd.matching.cidrs import CidrTable, build_cidrs
from iocd.matching.compile import ExactTable, build_exact
from iocd.matching.names import NameTable, build_names
from iocd.matching.part_data import (
    ACTION_CODE,
    ALERT,
    AUTHORITY,
    EMPTY_TEXTS,
    HASH_WIDTHS,
    HTTPS,
    NONE,
    OVERRIDDEN,
    TYPE_CODE,
    PartData,
    TextColumn,
    code_dtype,
    narrow,
)

__all__ = ["listed_part_data"]

_URL = TYPE_CODE[IndicatorType.URL]


def _flags(item: ListedIndicator) -> int:
    flags = AUTHORITY if item.authority is Authority.ORGANISATION else 0
    flags |= OVERRIDDEN if item.overridden else 0
    flags |= ALERT if item.generate_alert else 0
    if item.indicator_type is IndicatorType.URL and item.value.startswith("https://"):
        flags |= HTTPS
    return flags


def _url_key(url: str) -> str:
    """The URL without its scheme, as part_build's `^.*?://` (no newline before it) drops it;
    "" without `://`."""
    head, mark, rest = url.partition("://")
    if not mark:
        return ""
    return url if "\n" in head else rest


def _digests(values: list[str], width: int) -> tuple[list[int], Any]:
    """(which values are hex digests of `width` bytes, those bytes as (k, width))."""
    good: list[int] = []
    found: list[bytes] = []
    for at, text in enumerate(values):
        try:
            value = bytes.fromhex(text)
        except ValueError:
            continue
        if len(value) == width:
            good.append(at)
            found.append(value)
    digests = np.frombuffer(b"".join(found), dtype=np.uint8).reshape(-1, width)
    return good, digests


class _Rows:
    """The rows of a part as its tables are placed: positions (input order) by table."""

    def __init__(self) -> None:
        self.placed: list[Any] = []
        self.size = 0

    def add(self, positions: Any, order: Any) -> None:
        self.placed.append(np.asarray(positions, dtype=np.int64)[order])
        self.size += len(order)

    def order(self) -> Any:
        return np.concatenate(self.placed) if self.placed else NONE


def _addresses(
    positions: list[int], texts: list[str], rows: _Rows, dropped: list[int]
) -> tuple[ExactTable | None, CidrTable | None, TextColumn]:
    """The exact address table, then the CIDR table (see part_build.PartBuilder._addresses)."""
    packed: list[bytes] = []
    address_at: list[int] = []
    blocks: list[tuple[int, int, bool]] = []
    block_at: list[int] = []
    for at, text in enumerate(texts):
        if "/" in text:
            parsed = cidr(text)
            if parsed is not None:
                blocks.append((parsed[0], parsed[1], False))
                block_at.append(at)
                continue
        else:
            address = ip_packed(text)
            if address is not None:
                packed.append(address[0])
                address_at.append(at)
                continue
        dropped.append(positions[at])
    ip = cidrs = None
    kept: list[Any] = []
    local = np.array(positions, dtype=np.int64)
    if packed:
        values = np.frombuffer(b"".join(packed), np.uint8).reshape(-1, 16)
        ip, order = build_exact(values, rows.size)
        kept.append(np.array(address_at, dtype=np.int64)[order])
        rows.add(local[address_at], order)
    if blocks:
        cidrs, order = build_cidrs(blocks, rows.size)
        kept.append(np.array(block_at, dtype=np.int64)[order])
        rows.add(local[block_at], order)
    placed = np.concatenate(kept).tolist() if kept else []
    return ip, cidrs, TextColumn.of([texts[at] for at in placed]) if placed else EMPTY_TEXTS


def _names(positions: list[int], texts: list[str], window: str, rows: _Rows) -> NameTable | None:
    if not positions:
        return None
    table, order = build_names(texts, window, rows.size)
    rows.add(positions, order)
    return table


def listed_part_data(items: Sequence[ListedIndicator]) -> PartData:
    """The compiled part of `items` (row order and codes as PartBuilder gives them)."""
    scope_code: dict[frozenset[str], int] = {frozenset(): 0}
    by_type: dict[IndicatorType, tuple[list[int], list[str]]] = {}
    for at, item in enumerate(items):
        positions, values = by_type.setdefault(item.indicator_type, ([], []))
        positions.append(at)
        values.append(item.value)
    rows = _Rows()
    dropped: list[int] = []
    exact: dict[IndicatorType, ExactTable] = {}
    for kind, width in HASH_WIDTHS.items():
        positions, values = by_type.get(kind, ([], []))
        good, digests = _digests(values, width)
        kept = set(good)
        dropped.extend(positions[at] for at in range(len(values)) if at not in kept)
        if good:
            exact[kind], order = build_exact(digests, rows.size)
            rows.add([positions[at] for at in good], order)
    ip_row0 = rows.size
    ip, cidrs, ip_texts = _addresses(
        *by_type.get(IndicatorType.IP_ADDRESS, ([], [])), rows, dropped
    )
    domains = _names(*by_type.get(IndicatorType.DOMAIN_NAME, ([], [])), "tail", rows)
    positions, urls = by_type.get(IndicatorType.URL, ([], []))
    url_table = _names(positions, [_url_key(url) for url in urls], "head", rows)
    order = rows.order()
    column = _columns(items, scope_code)
    return PartData(
        exact,
        ip_row0,
        ip,
        cidrs,
        ip_texts,
        domains,
        url_table,
        narrow(column["ids"][order]),
        narrow(column["sequences"][order]),
        column["types"][order],
        column["actions"][order],
        column["flags"][order],
        column["scopes"][order].astype(code_dtype(len(scope_code))),
        tuple(scope_code),
        sorted((items[at] for at in dropped), key=lambda i: i.id),
    )


def _columns(
    items: Sequence[ListedIndicator], scope_code: dict[frozenset[str], int]
) -> dict[str, Any]:
    """The per-row columns in input order; `scope_code` is filled by first appearance."""
    count = len(items)
    return {
        "ids": np.fromiter((i.id for i in items), dtype=np.int64, count=count),
        "sequences": np.fromiter((i.sequence for i in items), dtype=np.int64, count=count),
        "types": np.fromiter(
            (TYPE_CODE[i.indicator_type] for i in items), dtype=np.uint8, count=count
        ),
        "actions": np.fromiter((ACTION_CODE[i.action] for i in items), dtype=np.uint8, count=count),
        "flags": np.fromiter((_flags(i) for i in items), dtype=np.uint8, count=count),
        "scopes": np.fromiter(
            (scope_code.setdefault(i.groups, len(scope_code)) for i in items),
            dtype=np.int32,
            count=count,
        ),
    }
