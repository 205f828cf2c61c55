"""The compiled index: every active indicator, immutable, versioned by the change sequence.

`build(indicators, sequence)` compiles a `Part`: columnar rows (id, action, scope, flags,
sequence; no Python object per indicator) plus the tables of `compile` over their values. An
index is a large base part shared by every later version, plus a small overlay of the changes
since: upserted indicators (compiled into a second, small part the first time a version is
matched) and the base rows they replace or that were removed (tombstones). `index.apply(changes)`
therefore costs the size of the overlay, not of the list; when the overlay passes
`compact_past` entries the next `apply` folds everything into a new base (a full build).

Rows are numbered base first, then overlay (`base.size + overlay row`). `ListedIndicator` and
`Candidate` objects are made only for rows that match, and kept.

Building from indicators (`build`, an overlay), matching and applying changes need numpy only
(matching.part_listed): the agent's process does all that without pyarrow. What works on Arrow
batches (`build_from_batches`, `to_batches`, `compacted`, `indicators`) imports it when called.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from iocd.domain.decision import (
    Authority,
    Candidate,
    Decision,
    EntityKind,
    ListedIndicator,
    MatchKind,
)
from iocd.domain.types import IndicatorType
from iocd.matching.cidrs import CidrTable
from iocd.matching.compile import ExactTable, IntArray
from iocd.matching.names import NameTable
from iocd.matching.part_data import (
    ACTIONS,
    ALERT,
    AUTHORITY,
    HTTPS,
    OVERRIDDEN,
    TYPES,
    PartData,
)
from iocd.matching.part_listed import listed_part_data
from iocd.matching.part_rows import listed_in_chunks, listed_rows

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "COMPACT_PAST",
    "KINDS",
    "CompiledIndex",
    "EntityDecision",
    "Part",
    "Removal",
    "apply",
    "build",
    "build_from_batches",
]

COMPACT_PAST = 8192
"""Overlay entries (upserts plus tombstones) past which `apply` rebuilds the base."""
NEVER = 2**62
"""`compact_past` of an index that never folds its overlay itself (the agent folds in a
separate process, see iocd.agent.sync)."""

KINDS: tuple[MatchKind, ...] = tuple(MatchKind)
"""Match kinds by the small code the matchers carry in arrays."""
KIND_CODE = {kind: code for code, kind in enumerate(KINDS)}

_TYPES = TYPES
_ACTIONS = ACTIONS
_AUTHORITY, _OVERRIDDEN, _ALERT, _HTTPS = AUTHORITY, OVERRIDDEN, ALERT, HTTPS


@dataclass(frozen=True, slots=True)
class Removal:
    """A change that takes indicator `id` out of the list (deleted, expired, replaced)."""

    id: int
    sequence: int = 0


@dataclass(frozen=True, slots=True)
class EntityDecision:
    """The decision for one entity of one event: its file, or its connection (address, host,
    URL together). `candidates` are the matches that apply to the event's device group."""

    entity: EntityKind
    decision: Decision
    candidates: tuple[Candidate, ...]


class Part:
    """A compiled set of indicators: rows grouped by type, then by value (see part_build)."""

    def __init__(self, indicators: Iterable[ListedIndicator]) -> None:
        items = indicators if isinstance(indicators, list) else list(indicators)
        self._adopt(listed_part_data(items))  # numpy only; what part_build gives for them

    @classmethod
    def from_batches(cls, batches: Iterable[pa.RecordBatch | pa.Table]) -> Part:
        """The part of SNAPSHOT_SCHEMA batches (no Python object per indicator)."""
        from iocd.matching.part_build import PartBuilder

        builder = PartBuilder()
        for batch in batches:
            builder.add(batch)
        return cls.from_data(builder.finish())

    @classmethod
    def from_data(cls, data: PartData) -> Part:
        part = cls.__new__(cls)
        part._adopt(data)
        return part

    def _adopt(self, data: PartData) -> None:
        self.exact: dict[IndicatorType, ExactTable] = data.exact
        self.skipped: list[ListedIndicator] = data.skipped
        self.ip_row0 = data.ip_row0
        self.ip: ExactTable | None = data.ip
        self.cidrs: CidrTable | None = data.cidrs
        self.ip_texts = data.ip_texts
        self.domains: NameTable | None = data.domains
        self.urls: NameTable | None = data.urls
        self.size = len(data.ids)
        self.ids: Any = data.ids  # int32 or int64 (part_build.narrow)
        self.sequences: Any = data.sequences
        self.types = data.types
        self.actions = data.actions
        self.flags = data.flags
        self.scopes = data.scopes
        self.scope_sets: tuple[frozenset[str], ...] = data.scope_sets
        order = data.id_order
        if order is None:
            order = np.argsort(self.ids, kind="stable").astype(np.int32)
        self.id_order = order
        self._ids_view = memoryview(self.ids.data)
        self._order_view = memoryview(self.id_order.data)
        self._listed: dict[int, ListedIndicator] = {}

    def nbytes(self) -> int:
        """Bytes held by the arrays and tables (not counting Python string objects)."""
        arrays = (self.ids, self.sequences, self.types, self.actions, self.flags, self.scopes)
        tables: list[Any] = [*self.exact.values(), self.ip, self.cidrs, self.domains, self.urls]
        return int(
            sum(int(a.nbytes) for a in arrays)
            + int(self.id_order.nbytes)
            + int(self.ip_texts.nbytes)
            + sum(t.nbytes for t in tables if t is not None)
        )

    def row_of(self, indicator_id: int) -> int:
        """The row of an indicator id, or -1."""
        ids = self._ids_view
        at = bisect.bisect_left(self._order_view, indicator_id, key=ids.__getitem__)
        if at < len(self._order_view):
            row = int(self._order_view[at])
            if ids[row] == indicator_id:
                return row
        return -1

    def value_of(self, row: int) -> str:
        indicator_type = _TYPES[self.types[row]]
        if indicator_type in self.exact:
            table = self.exact[indicator_type]
            return bytes(table.values[_value_index(table.starts, row - table.row0)]).hex()
        if indicator_type is IndicatorType.IP_ADDRESS:
            return self.ip_texts[row - self.ip_row0]
        names = self.domains if indicator_type is IndicatorType.DOMAIN_NAME else self.urls
        assert names is not None
        name = names.name(_value_index(names.starts, row - names.row0))
        if indicator_type is IndicatorType.URL:
            return ("https://" if self.flags[row] & _HTTPS else "http://") + name
        return name

    def every_listed(self, dead: IntArray) -> Iterator[ListedIndicator]:
        """A fresh `ListedIndicator` per row but the sorted `dead` rows (part_rows, a chunk of
        rows at a time)."""
        yield from listed_in_chunks(self, np.setdiff1d(np.arange(self.size), dead))

    def listed(self, row: int) -> ListedIndicator:
        """The indicator at `row` (made once, then kept)."""
        found = self._listed.get(row)
        if found is None:
            found = self._listed[row] = self.fresh(row)
        return found

    def keep_listed(self, rows: IntArray) -> None:
        """Make and keep, all at once, the indicators of those `rows` not kept yet (part_rows:
        a scan's first matches meet thousands)."""
        kept = self._listed
        wanted = [row for row in dict.fromkeys(rows.tolist()) if row not in kept]
        if wanted:
            made = listed_rows(self, np.array(wanted, dtype=np.int64))
            kept.update(zip(wanted, made, strict=True))

    def fresh(self, row: int) -> ListedIndicator:
        """The indicator at `row`, made now and not kept."""
        flags = int(self.flags[row])
        return ListedIndicator(
            id=int(self.ids[row]),
            indicator_type=_TYPES[self.types[row]],
            value=self.value_of(row),
            action=_ACTIONS[self.actions[row]],
            groups=self.scope_sets[self.scopes[row]],
            authority=Authority.ORGANISATION if flags & _AUTHORITY else Authority.GROUP,
            overridden=bool(flags & _OVERRIDDEN),
            generate_alert=bool(flags & _ALERT),
            sequence=int(self.sequences[row]),
        )


def _value_index(starts: Any, offset: int) -> int:
    found: int = bisect.bisect_right(memoryview(starts.data), offset) - 1
    return found


def specificity(indicator: ListedIndicator, kind: MatchKind) -> int:
    """`Candidate.specificity` of an indicator matched as `kind` (SPEC section 4)."""
    value = indicator.value
    if kind in (MatchKind.HOST, MatchKind.PARENT_DOMAIN):
        return value.count(".") + 1
    if kind is MatchKind.URL:
        rest = value.partition("://")[2]
        path, query = rest[rest.find("/") :], "?" in rest
        path = path.partition("?")[0]
        return sum(1 for segment in path.split("/") if segment) + (1 if query else 0)
    if kind is MatchKind.IP:
        return 128 if ":" in value else 32
    if kind is MatchKind.CIDR:
        return int(value.rpartition("/")[2])
    return 0


class CompiledIndex:
    """One version of the list as the engines hold it (immutable once made)."""

    def __init__(
        self,
        base: Part,
        sequence: int,
        overlay: dict[int, ListedIndicator] | None = None,
        dead: dict[int, int] | None = None,
        compact_past: int = COMPACT_PAST,
    ) -> None:
        self.base = base
        self.sequence = sequence
        self._overlay = overlay or {}
        self._dead = dead or {}  # indicator id -> base row it replaces or removes
        self.compact_past = compact_past
        self._lock = threading.Lock()
        self._candidates: dict[tuple[int, int], Candidate] = {}
        self.decisions: dict[Any, EntityDecision] = {}
        """Decision cache of the matchers for this version (bounded by the matchers)."""
        self.row_decisions: dict[Any, EntityDecision | None] = {}
        """The agent matcher's cache, by matched rows (see `single.decide_event`)."""
        self.single_decisions: dict[int, EntityDecision] = {}
        """The batch matcher's cache of one-candidate outcomes, by an integer key."""
        self._groups: dict[str, int] = {}

    def group_code(self, name: str) -> int:
        """A small integer per device-group name, stable for this version."""
        found = self._groups.get(name)
        if found is None:
            with self._lock:
                found = self._groups.setdefault(name, len(self._groups))
        return found

    def groups(self) -> list[str]:
        """Device-group names by `group_code`."""
        return list(self._groups)

    def __len__(self) -> int:
        return self.base.size - len(self._dead) + len(self._overlay)

    def __repr__(self) -> str:
        return (
            f"CompiledIndex(sequence={self.sequence}, indicators={len(self)}, "
            f"overlay={len(self._overlay)}, tombstones={len(self._dead)})"
        )

    @property
    def overlay_size(self) -> int:
        return len(self._overlay) + len(self._dead)

    @cached_property
    def overlay(self) -> Part | None:
        """The upserts since the base, compiled (on first use of this version)."""
        return Part(self._overlay.values()) if self._overlay else None

    @cached_property
    def dead_rows(self) -> IntArray:
        """Sorted base rows that no longer count (removed, or replaced by an upsert)."""
        return np.array(sorted(self._dead.values()), dtype=np.int64)

    @cached_property
    def dead_row_set(self) -> frozenset[int]:
        return frozenset(self._dead.values())

    def parts(self) -> tuple[tuple[Part, int], ...]:
        """The parts to search and the row offset of each."""
        return self._parts

    @cached_property
    def _parts(self) -> tuple[tuple[Part, int], ...]:
        overlay = self.overlay
        if overlay is None:
            return ((self.base, 0),)
        return ((self.base, 0), (overlay, self.base.size))

    def listed(self, row: int) -> ListedIndicator:
        if row < self.base.size:
            return self.base.listed(row)
        overlay = self.overlay
        assert overlay is not None
        return overlay.listed(row - self.base.size)

    def prepare(self, rows: IntArray) -> None:
        """Make the indicators of `rows` at once, before `candidate` asks for them one by one."""
        size = self.base.size
        added = rows >= size
        self.base.keep_listed(rows[~added])
        if added.any():
            overlay = self.overlay
            assert overlay is not None
            overlay.keep_listed(rows[added] - size)

    def candidate(self, row: int, kind: int) -> Candidate:
        """The candidate for `row` matched as `KINDS[kind]` (made once per version, then kept)."""
        key = (row, kind)
        found = self._candidates.get(key)
        if found is None:
            indicator = self.listed(row)
            match = KINDS[kind]
            found = Candidate(indicator, match, specificity(indicator, match))
            self._candidates[key] = found
        return found

    def get(self, indicator_id: int) -> ListedIndicator | None:
        """The indicator of an id (made now for a base row, and not kept: the agent looks up
        the old entries of every change it applies)."""
        if indicator_id in self._overlay:
            return self._overlay[indicator_id]
        if indicator_id in self._dead:
            return None
        row = self.base.row_of(indicator_id)
        return self.base.fresh(row) if row >= 0 else None

    def indicators(self) -> Iterator[ListedIndicator]:
        """Every indicator of this version, base rows first (makes an object per indicator)."""
        yield from self.base.every_listed(self.dead_rows)
        yield from self._overlay.values()

    def indicators_of(self, kind: IndicatorType) -> Iterator[ListedIndicator]:
        """The indicators of one type (an object each for those only, none kept)."""
        rows = np.flatnonzero(self.base.types == _TYPES.index(kind))
        yield from listed_in_chunks(self.base, np.setdiff1d(rows, self.dead_rows))
        yield from (i for i in self._overlay.values() if i.indicator_type is kind)

    def apply(
        self,
        changes: Iterable[ListedIndicator | Removal | int],
        sequence: int | None = None,
    ) -> CompiledIndex:
        """A new version with `changes` folded in (upserts, and removals by `Removal` or id)."""
        overlay = dict(self._overlay)
        dead = dict(self._dead)
        newest = self.sequence
        for change in changes:
            if isinstance(change, ListedIndicator | Removal):
                indicator_id, newest = change.id, max(newest, change.sequence)
            else:
                indicator_id = int(change)
            if indicator_id not in dead and indicator_id not in overlay:
                row = self.base.row_of(indicator_id)
                if row >= 0:
                    dead[indicator_id] = row
            if isinstance(change, ListedIndicator):
                overlay[indicator_id] = change
            else:
                overlay.pop(indicator_id, None)
        version = sequence if sequence is not None else newest
        following = CompiledIndex(self.base, version, overlay, dead, self.compact_past)
        if len(overlay) + len(dead) > self.compact_past:
            return following.compacted()
        return following

    def to_batches(self) -> Iterator[pa.RecordBatch]:
        """Every indicator of this version as SNAPSHOT_SCHEMA batches: the base's live rows
        (columnar), then the overlay."""
        from iocd.matching.part_export import part_batch
        from iocd.matching.snapshot import listed_to_batch

        yield part_batch(self.base, self.dead_rows)
        if self._overlay:
            yield listed_to_batch(list(self._overlay.values()))

    def compacted(self) -> CompiledIndex:
        """The same version with everything folded into one base (a full build from the
        columns: no Python object per indicator)."""
        return build_from_batches(self.to_batches(), self.sequence, compact_past=self.compact_past)

    def nbytes(self) -> int:
        overlay = self.overlay
        return self.base.nbytes() + (overlay.nbytes() if overlay is not None else 0)


def build(
    indicators: Iterable[ListedIndicator], sequence: int, *, compact_past: int = COMPACT_PAST
) -> CompiledIndex:
    """The index of `indicators` (every active one) at change-sequence value `sequence`."""
    return CompiledIndex(Part(indicators), sequence, compact_past=compact_past)


def build_from_batches(
    batches: Iterable[pa.RecordBatch | pa.Table],
    sequence: int,
    *,
    compact_past: int = COMPACT_PAST,
) -> CompiledIndex:
    """The index of SNAPSHOT_SCHEMA batches or tables (every active indicator), built
    columnar batch by batch: no Python object per indicator, and no batch kept once read."""
    return CompiledIndex(Part.from_batches(batches), sequence, compact_past=compact_past)


def apply(
    index: CompiledIndex,
    upserts: Iterable[ListedIndicator],
    removals: Iterable[int],
    sequence: int,
) -> CompiledIndex:
    """`index.apply` with upserts and removed ids given apart (the detection worker's form)."""
    changes: list[ListedIndicator | Removal | int] = [*removals, *upserts]
    return index.apply(changes, sequence)
