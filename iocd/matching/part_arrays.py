"""A compiled part as named arrays plus JSON-able metadata, and back: how a saved index is
written and read (services.index_keeper keeps one in the data directory), so a process with a
large list starts without compiling it again.

Every numpy array and byte string of the part's tables becomes one named array; everything
else (widths, row offsets, shifts, 128-bit IPv6 bounds, chains, scope sets, the few skipped
indicators) goes into the metadata. Nothing is pickled: reading takes arrays and plain JSON
only. numpy only (no Arrow), so the agent's process reads a part its compile process wrote;
arrays read are used as they are (no copy: they may be views of a memory-mapped file). Pure:
no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from iocd.domain.types import IndicatorType
from iocd.matching.cidrs import CidrTable
from iocd.matching.compile import Bitset, ExactTable
from iocd.matching.delta import entry_from_wire, entry_to_wire
from iocd.matching.index import Part
from iocd.matching.names import NameTable
from iocd.matching.part_data import PartData, TextColumn

__all__ = ["FORMAT", "part_from_arrays", "part_to_arrays"]

FORMAT = 1
"""Bumped whenever the compiled layout changes: a saved part of another format is rebuilt."""

_TABLES: dict[str, type[Any]] = {"exact": ExactTable, "cidrs": CidrTable, "names": NameTable}
_ROWS = ("ids", "sequences", "types", "actions", "flags", "scopes")


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray[Any, Any]] = {}

    def value(self, name: str, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            self.arrays[name] = value
            return {"array": name}
        if isinstance(value, bytes | memoryview):
            self.arrays[name] = np.frombuffer(value, dtype=np.uint8)
            return {"bytes": name}
        if isinstance(value, Bitset):
            return {"bitset": self.value(name, value.words), "bits": value.bits}
        if isinstance(value, dict):
            return {"map": [[k, self.value(f"{name}.{k}", v)] for k, v in value.items()]}
        if isinstance(value, list | tuple):
            return {"list": [list(v) if isinstance(v, tuple) else v for v in value]}
        return {"plain": value}

    def table(self, name: str, table: Any) -> Any:
        if table is None:
            return None
        kind = next(k for k, t in _TABLES.items() if isinstance(table, t))
        fields = [f.name for f in dataclasses.fields(table) if f.init]
        return {
            "table": kind,
            "fields": {f: self.value(f"{name}.{f}", getattr(table, f)) for f in fields},
        }


class _Reader:
    def __init__(self, arrays: Mapping[str, Any]) -> None:
        self.arrays = arrays

    def value(self, encoded: Any) -> Any:
        if "array" in encoded:
            return np.asarray(self.arrays[encoded["array"]])
        if "bytes" in encoded:
            return np.asarray(self.arrays[encoded["bytes"]], dtype=np.uint8).data
        if "bitset" in encoded:
            return Bitset.of_words(self.value(encoded["bitset"]), int(encoded["bits"]))
        if "map" in encoded:
            return {k: self.value(v) for k, v in encoded["map"]}
        if "list" in encoded:
            return [tuple(v) if isinstance(v, list) else v for v in encoded["list"]]
        return encoded["plain"]

    def table(self, encoded: Any) -> Any:
        if encoded is None:
            return None
        fields = {name: self.value(v) for name, v in encoded["fields"].items()}
        if encoded["table"] == "names":
            fields["short_filters"] = {int(k): v for k, v in fields["short_filters"].items()}
        return _TABLES[encoded["table"]](**fields)


def part_to_arrays(part: Part) -> tuple[dict[str, np.ndarray[Any, Any]], dict[str, Any]]:
    """(named arrays, metadata) of a part; `part_from_arrays` makes it again."""
    out = _Writer()
    out.arrays["ip_texts.offsets"] = part.ip_texts.offsets.astype(np.int32)
    out.arrays["ip_texts.data"] = part.ip_texts.data
    out.arrays["rows.id_order"] = part.id_order
    for name in _ROWS:
        out.arrays[f"rows.{name}"] = getattr(part, name)
    meta = {
        "format": FORMAT,
        "exact": [
            [t.value, out.table(f"exact.{t.value}", table)] for t, table in part.exact.items()
        ],
        "ip_row0": part.ip_row0,
        "ip": out.table("ip", part.ip),
        "cidrs": out.table("cidrs", part.cidrs),
        "domains": out.table("domains", part.domains),
        "urls": out.table("urls", part.urls),
        "scope_sets": [sorted(scope) for scope in part.scope_sets],
        "skipped": [entry_to_wire(i) for i in part.skipped],
    }
    return out.arrays, meta


def part_from_arrays(arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> Part:
    """The part `part_to_arrays` described. Raises ValueError for another format."""
    if meta.get("format") != FORMAT:
        raise ValueError(f"saved index format {meta.get('format')!r}, this build reads {FORMAT}")
    read = _Reader(arrays)
    texts = TextColumn(
        np.asarray(arrays["ip_texts.data"], dtype=np.uint8),
        np.asarray(arrays["ip_texts.offsets"], dtype=np.int32),
    )
    order = arrays.get("rows.id_order")
    rows = {name: np.asarray(arrays[f"rows.{name}"]) for name in _ROWS}
    data = PartData(
        exact={IndicatorType(t): read.table(table) for t, table in meta["exact"]},
        ip_row0=int(meta["ip_row0"]),
        ip=read.table(meta["ip"]),
        cidrs=read.table(meta["cidrs"]),
        ip_texts=texts,
        domains=read.table(meta["domains"]),
        urls=read.table(meta["urls"]),
        scope_sets=tuple(frozenset(scope) for scope in meta["scope_sets"]),
        skipped=[entry_from_wire(i) for i in meta["skipped"]],
        id_order=np.asarray(order, dtype=np.int32) if order is not None else None,
        **rows,
    )
    return Part.from_data(data)
