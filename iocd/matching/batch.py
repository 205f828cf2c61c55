"""Many events at once: an Arrow batch of `columns.EVENT_SCHEMA` against a compiled index.

The hot path is vectorised over the Arrow buffers (no Python per event): digests and addresses
are read in place as integers and looked up in hash tables behind bitsets; CIDR chains come
from the /16 bucket table and a branch-free binary search; domains and URLs are first screened
by an eight-byte window (the end of a domain, the start of a URL after its scheme), and only the
events that pass (the hits, and those that share a window with some listed value) take the exact
step: hashes of every label-boundary suffix (domains) or path prefix (URLs), from one running
sum over their bytes (names.name_prefix), looked up in a hash table, and hits compared byte
for byte.
Precedence then runs once per distinct (candidates, device group, file trust) and is remembered
by the index version: the same hits repeat.

The answer, `BatchMatches`, has one entry per (event row, entity) with at least one candidate
that applies to the event's device group: the file (hashes and signer) and the connection
(address, names, URL) of one event are two entities with a decision each, so an event that
matched both has two entries, file first. Semantics are exactly those of `single` (see there);
the one cost it does not hide: events with a `url` but no `domain` have the URL's host taken
out in Python (readers normally fill `domain` for HTTP events).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from iocd.domain.accounts import UNGROUPED
from iocd.matching.batch_columns import BatchColumns, Hits, column_of, valid_rows
from iocd.matching.batch_decide import BatchMatches, decide_hits, no_matches
from iocd.matching.compile import (
    BoolArray,
    IntArray,
    expand,
)
from iocd.matching.index import CompiledIndex, Part
from iocd.matching.names import NameTable, name_prefix, substring_hashes
from iocd.matching.single import (
    _FILE_KIND,
    CIDR,
    HOST,
    IP,
    PARENT,
    URL,
)

__all__ = ["BatchMatches", "match", "match_batch"]

FILE, NETWORK = 0, 1


def _file_hits(hits: Hits, part: Part, offset: int, batch: BatchColumns) -> None:
    for indicator_type, column in batch.files.items():
        table = part.exact.get(indicator_type)
        if table is None:
            continue
        events, values = column.find(table)
        at, rows = expand(table.starts, values)
        hits.add(events[at], FILE, rows + offset + table.row0, _FILE_KIND[indicator_type])


def _address_hits(hits: Hits, part: Part, offset: int, batch: BatchColumns) -> None:
    if batch.ip_parts is None:
        return
    valid = valid_rows(batch.ip)
    if part.ip is not None:
        events, values = batch.ip_parts.find(part.ip)
        at, rows = expand(part.ip.starts, values)
        hits.add(events[at], NETWORK, rows + offset + part.ip.row0, IP)
    cidrs = part.cidrs
    if cidrs is None:
        return
    column, count = batch.ip, batch.count
    buffer, start = column.buffers()[1], column.offset * 16
    words = np.ndarray((count, 2), np.dtype(">u8"), buffer=buffer, offset=start)
    marker = np.ndarray((count,), np.dtype(">u4"), buffer=buffer, offset=start + 8, strides=(16,))
    is_v4 = (words[:, 0] == 0) & (marker == 0xFFFF)
    if valid is not None:
        is_v4 &= valid
    events = np.flatnonzero(is_v4)
    address = np.ndarray((count,), np.dtype(">u4"), buffer=buffer, offset=start + 12, strides=(16,))
    chains = cidrs.chains_of_v4(address[events].astype(np.uint64))
    others = ~is_v4 if valid is None else (~is_v4 & valid)
    if len(cidrs.v6_hi) and others.any():
        v6 = np.flatnonzero(others)
        pair = words[v6].astype(np.uint64)
        events = np.concatenate([events, v6])
        chains = np.concatenate([chains, cidrs.chains_of_v6(pair[:, 0], pair[:, 1])])
    matched = chains >= 0
    events, chains = events[matched], chains[matched].astype(np.int64)
    at, values = expand(cidrs.chain_starts, chains.astype(np.int64))
    values = cidrs.chain_values[values].astype(np.int64)
    more, rows = expand(cidrs.starts, values)
    hits.add(events[at][more], NETWORK, rows + offset + cidrs.row0, CIDR)


def _exact_names(
    table: NameTable, events: list[int], texts: list[str]
) -> tuple[list[int], list[int], list[int]]:
    """The exact step in Python (for URL hosts standing in for a missing domain)."""
    out_events: list[int] = []
    out_values: list[int] = []
    out_kinds: list[int] = []
    for event, text in zip(events, texts, strict=True):
        for value, parent in table.find_domain(text.encode()):
            out_events.append(event)
            out_values.append(value)
            out_kinds.append(PARENT if parent else HOST)
    return out_events, out_values, out_kinds


def _add_names(
    hits: Hits, table: NameTable, offset: int, found: tuple[IntArray, IntArray, IntArray]
) -> None:
    events, values, kinds = found
    if not len(events):
        return
    at, rows = expand(table.starts, values)
    hits.add(events[at], NETWORK, rows + offset + table.row0, kinds[at])


def _gather(
    padded: npt.NDArray[np.uint8], starts: IntArray, ends: IntArray
) -> tuple[npt.NDArray[np.uint8], IntArray, IntArray]:
    """The bytes of some strings laid end to end, their offsets, and each byte's string."""
    lengths = np.maximum(ends - starts, 0)
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), lengths)
    data = padded[starts[owner] + np.arange(int(offsets[-1]), dtype=np.int64) - offsets[owner]]
    return data, offsets, owner


def _domain_exact(
    table: NameTable, padded: npt.NDArray[np.uint8], starts: IntArray, ends: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """(string, name index, kind) of each name that is one of the strings or a parent of one:
    hashes of every label-boundary suffix, looked up, then compared byte for byte."""
    data, offsets, owner = _gather(padded, starts, ends)
    position = np.arange(len(data), dtype=np.int64)
    prefix = name_prefix(data, offsets[1:][owner] - 1 - position)
    dots = np.flatnonzero(data == 46)
    count = len(starts)
    strings = np.concatenate([np.arange(count, dtype=np.int64), owner[dots]])
    begin = np.concatenate([offsets[:-1], dots + 1])
    end = offsets[1:][strings]
    found, names = table.find_hashes(substring_hashes(prefix, begin, end))
    good = table.equal(data, begin[found], end[found], names)
    found, names = found[good], names[good]
    kinds = np.where(found < count, HOST, PARENT)
    return strings[found], names, kinds


def _url_exact(
    table: NameTable, padded: npt.NDArray[np.uint8], starts: IntArray, ends: IntArray
) -> tuple[IntArray, IntArray]:
    """(string, key index) of each URL key that the URL (without its scheme) falls under: the
    whole URL, its path without the query, and every path prefix at a `/`, with and without it."""
    data, offsets, owner = _gather(padded, starts, ends)
    position = np.arange(len(data), dtype=np.int64)
    prefix = name_prefix(data, position - offsets[:-1][owner])
    count = len(starts)
    path_end = offsets[1:].copy()
    marks = np.flatnonzero(data == 63)
    if len(marks):
        first_owner, first_at = np.unique(owner[marks], return_index=True)
        path_end[first_owner] = marks[first_at]
    slashes = np.flatnonzero(data == 47)
    slashes = slashes[slashes < path_end[owner[slashes]]]
    slash_owner = owner[slashes]
    first_slash = np.full(count, -1, dtype=np.int64)
    if len(slashes):
        seen, first_at = np.unique(slash_owner, return_index=True)
        first_slash[seen] = slashes[first_at]
    inner = slashes > first_slash[slash_owner]
    with_query = np.flatnonzero(path_end < offsets[1:])
    strings = np.concatenate(
        [slash_owner, slash_owner[inner], np.arange(count, dtype=np.int64), with_query]
    )
    end = np.concatenate([slashes + 1, slashes[inner], path_end, offsets[1:][with_query]])
    begin = offsets[:-1][strings]
    found, keys = table.find_hashes(substring_hashes(prefix, begin, end))
    good = table.equal(data, begin[found], end[found], keys)
    return strings[found[good]], keys[good]


def _name_hits(hits: Hits, part: Part, offset: int, batch: BatchColumns) -> None:
    sources = [(part.domains, c, "tail") for c in batch.names]
    if batch.url is not None:
        sources.append((part.urls, batch.url, "head"))
    for table, column, window in sources:
        if table is None:
            continue
        windows, lengths, rows = batch.windows(column, window)
        maybe = table.candidates(windows, lengths)
        valid = valid_rows(column)
        within = np.flatnonzero(maybe)
        events = within if rows is None else rows[within]
        if valid is not None and rows is None:
            keep = valid[events]
            within, events = within[keep], events[keep]
        if not len(events):
            continue
        starts, ends, padded = batch.strings(column)
        if window == "tail":
            at, names, kinds = _domain_exact(table, padded, starts[events], ends[events])
            _add_names(hits, table, offset, (events[at], names, kinds))
        else:
            skip = ends[events] - lengths[within]
            at, keys = _url_exact(table, padded, skip, ends[events])
            _add_names(hits, table, offset, (events[at], keys, np.full(len(at), URL)))
    if part.domains is not None and batch.hosts:
        host_rows, hosts = zip(*batch.hosts, strict=True)
        found = _exact_names(part.domains, list(host_rows), list(hosts))
        as_arrays = tuple(np.array(f, dtype=np.int64) for f in found)
        _add_names(hits, part.domains, offset, (as_arrays[0], as_arrays[1], as_arrays[2]))


def _scopes(part: Part, groups: list[str]) -> BoolArray:
    """Whether each scope set of `part` applies to each device group."""
    table = np.zeros((len(part.scope_sets), len(groups)), dtype=np.bool_)
    for at, scope in enumerate(part.scope_sets):
        for code, group in enumerate(groups):
            table[at, code] = not scope or group in scope
    return table


def _device_groups(batch: pa.RecordBatch, events: IntArray, index: CompiledIndex) -> IntArray:
    """The index-wide code (see `CompiledIndex.group_code`) of each hit event's device group."""
    column = column_of(batch, "device_group")
    if column is None:
        return np.full(len(events), index.group_code(UNGROUPED), dtype=np.int64)
    encoded = column.take(pa.array(events)).dictionary_encode()
    names = encoded.dictionary.to_pylist()
    codes = np.array([index.group_code(n) for n in [*names, UNGROUPED]], dtype=np.int64)
    found: IntArray = codes[encoded.indices.fill_null(len(names)).to_numpy(zero_copy_only=False)]
    return found


def _trust(batch: pa.RecordBatch, events: IntArray) -> IntArray:
    bits = np.zeros(len(events), dtype=np.int64)
    for name, weight in (("signature_valid", 2), ("signer_trusted", 1)):
        column = column_of(batch, name)
        if column is not None and len(events):
            taken = column.take(pa.array(events)).fill_null(False)
            bits += weight * taken.to_numpy(zero_copy_only=False)
    return bits


def match_batch(index: CompiledIndex, batch: pa.RecordBatch) -> BatchMatches:
    """Every (event, entity) of `batch` with an applicable candidate, and its decision."""
    columns = BatchColumns(batch)
    hits = Hits()
    for part, offset in index.parts():
        _file_hits(hits, part, offset, columns)
        _address_hits(hits, part, offset, columns)
        _name_hits(hits, part, offset, columns)
    if not hits.parts:
        return no_matches()
    events = np.concatenate([p[0] for p in hits.parts])
    entity = np.concatenate([np.full(len(p[0]), p[1], dtype=np.int64) for p in hits.parts])
    rows = np.concatenate([p[2] for p in hits.parts])
    kinds = np.concatenate(hits.kinds)
    if index.overlay_size and len(index.dead_rows):
        alive = ~np.isin(rows, index.dead_rows)
        events, entity, rows, kinds = events[alive], entity[alive], rows[alive], kinds[alive]
    group = _device_groups(batch, events, index)
    groups = index.groups()
    applies = np.zeros(len(rows), dtype=np.bool_)
    for part, offset in index.parts():
        inside = (rows >= offset) & (rows < offset + part.size)
        if inside.any():
            scopes = part.scopes[rows[inside] - offset]
            applies[inside] = _scopes(part, groups)[scopes, group[inside]]
    keep = np.flatnonzero(applies)
    if not len(keep):
        return no_matches()
    events, entity, rows, kinds, group = (a[keep] for a in (events, entity, rows, kinds, group))
    # One candidate per (event, entity, indicator row): the best match kind (host over parent).
    order = np.lexsort((kinds, rows, entity, events))
    events, entity, rows, kinds, group = (a[order] for a in (events, entity, rows, kinds, group))
    first = np.ones(len(events), dtype=np.bool_)
    first[1:] = (events[1:] != events[:-1]) | (entity[1:] != entity[:-1]) | (rows[1:] != rows[:-1])
    events, entity, rows, kinds, group = (a[first] for a in (events, entity, rows, kinds, group))
    trust = np.where(entity == FILE, _trust(batch, events), 0)
    return decide_hits(index, events, entity, rows, kinds, group, trust, groups)


match = match_batch
"""The name ARCHITECTURE.md uses."""
