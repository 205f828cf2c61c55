"""Outputs for enforcement points: what each one holds and how a request for one is read.

An output is a file an enforcement point polls (a firewall's external dynamic list, a DNS
resolver's RPZ zone, Suricata rules and their lists, a ClamAV hash database). Each is a view of
the active list for some device groups, without what Allowed indicators exempt, cut to an
optional cap by `priority` (severity, then recency, then id).

Which actions each output enforces (`OutputSpec.actions`):
- EDL, RPZ and ClamAV: Block and BlockAndRemediate (they only block; Warn has no meaning there).
- Suricata: Block and BlockAndRemediate as `drop` rules, Warn as `alert` rules.
Audit never reaches an output (it only alerts, server side). Pure values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from iocd.domain.instants import from_micros, micros
from iocd.domain.types import SEVERITY_RANK, Action, IndicatorType, Severity
from iocd.errors import InvalidInput

__all__ = [
    "ACTION_CODES",
    "ACTION_TEXT",
    "BLOCKING",
    "EDL_TYPES",
    "HASH_TYPES",
    "MAX_CAP",
    "SEVERITY_CODES",
    "SEVERITY_TEXT",
    "SURICATA_LISTS",
    "TYPE_CODES",
    "TYPE_TEXT",
    "EntryChunk",
    "OutputEntry",
    "OutputKind",
    "OutputRequest",
    "OutputSpec",
    "Selection",
    "SuricataList",
    "Tally",
    "catalogue",
    "entries_of",
    "output_path",
    "parse_kind",
    "priority",
    "spec_of",
]

MAX_CAP = 10_000_000
BLOCKING = frozenset({Action.BLOCK, Action.BLOCK_AND_REMEDIATE})
HASH_TYPES = (IndicatorType.FILE_SHA256, IndicatorType.FILE_SHA1, IndicatorType.FILE_MD5)


class OutputKind(StrEnum):
    EDL = "edl"
    RPZ = "rpz"
    SURICATA = "suricata"
    SURICATA_LIST = "suricata-list"
    CLAMAV = "clamav"


EDL_TYPES: dict[str, IndicatorType] = {
    "ip": IndicatorType.IP_ADDRESS,
    "domain": IndicatorType.DOMAIN_NAME,
    "url": IndicatorType.URL,
    "sha256": IndicatorType.FILE_SHA256,
    "sha1": IndicatorType.FILE_SHA1,
    "md5": IndicatorType.FILE_MD5,
}
"""EDL type name (in the URL and `--type`) -> the indicator type it lists."""


@dataclass(frozen=True, slots=True)
class SuricataList:
    """A list file the Suricata rules load: a hash list (`filesha256:` and friends, hex per
    line) or a dataset of exact domain names (`dataset:isset`, base64 per line)."""

    name: str
    indicator_type: IndicatorType
    actions: frozenset[Action]

    @property
    def file_name(self) -> str:
        return f"{self.name}.lst"

    @property
    def rule_action(self) -> str:
        return "alert" if Action.WARN in self.actions else "drop"


def _lists() -> dict[str, SuricataList]:
    out: dict[str, SuricataList] = {}
    named = [(t.value.removeprefix("File").lower(), t) for t in HASH_TYPES]
    named.append(("domains", IndicatorType.DOMAIN_NAME))
    for label, indicator_type in named:
        for verb, actions in (("drop", BLOCKING), ("alert", frozenset({Action.WARN}))):
            name = f"iocd-{label}-{verb}"
            out[name] = SuricataList(name, indicator_type, actions)
    return out


SURICATA_LISTS = _lists()
"""iocd-sha256-drop, iocd-sha256-alert, ..., iocd-domains-drop, iocd-domains-alert."""


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """What one output selects: indicator types and the actions it enforces."""

    types: frozenset[IndicatorType]
    actions: frozenset[Action]


_SURICATA = OutputSpec(
    frozenset({IndicatorType.IP_ADDRESS, IndicatorType.DOMAIN_NAME, IndicatorType.URL})
    | frozenset(HASH_TYPES),
    BLOCKING | {Action.WARN},
)


@dataclass(frozen=True, slots=True)
class OutputRequest:
    """One output as asked for. `name` is the EDL type (`ip`, `domain`, ...) or the Suricata
    list name (`iocd-sha256-drop`, ...); `groups` is the device groups whose view it is
    (empty: the view of a device in no group, i.e. the all-devices indicators); `cap` limits
    how many entries it holds (None: all). `rpz_ip` adds rpz-ip triggers for addresses;
    `suricata_domains` is `rules` (one rule per domain, subdomains included) or `dataset`
    (exact names in the iocd-domains-* datasets); `sid_base` is the first Suricata sid."""

    kind: OutputKind
    name: str = ""
    groups: tuple[str, ...] = ()
    cap: int | None = None
    rpz_ip: bool = False
    suricata_domains: str = "rules"
    sid_base: int = 1_000_000_000

    def __post_init__(self) -> None:
        if self.cap is not None and not 0 <= self.cap <= MAX_CAP:
            raise InvalidInput("cap", f"must be between 0 and {MAX_CAP:,}")
        if self.suricata_domains not in ("rules", "dataset"):
            raise InvalidInput("domains", "must be rules or dataset")
        if not 1 <= self.sid_base <= 3_000_000_000:
            raise InvalidInput("sidBase", "must be between 1 and 3,000,000,000")
        spec_of(self)  # an unknown type or list name fails here, with the choices


def parse_kind(raw: str) -> OutputKind:
    for kind in OutputKind:
        if kind.value == raw.strip().lower():
            return kind
    choices = ", ".join(k.value for k in OutputKind)
    raise InvalidInput("kind", f"unknown output {raw!r}; expected one of {choices}")


def spec_of(request: OutputRequest) -> OutputSpec:
    """The types and actions an output selects (a Suricata list selects what the rules do,
    so its content always matches what the rules reference)."""
    kind = request.kind
    if kind is OutputKind.EDL:
        found = EDL_TYPES.get(request.name)
        if found is None:
            raise InvalidInput(
                "type", f"unknown EDL type {request.name!r}; expected one of {', '.join(EDL_TYPES)}"
            )
        return OutputSpec(frozenset({found}), BLOCKING)
    if kind is OutputKind.RPZ:
        types = {IndicatorType.DOMAIN_NAME}
        if request.rpz_ip:
            types.add(IndicatorType.IP_ADDRESS)
        return OutputSpec(frozenset(types), BLOCKING)
    if kind is OutputKind.CLAMAV:
        return OutputSpec(frozenset(HASH_TYPES), BLOCKING)
    if kind is OutputKind.SURICATA_LIST and request.name not in SURICATA_LISTS:
        raise InvalidInput(
            "list",
            f"unknown Suricata list {request.name!r}; expected one of {', '.join(SURICATA_LISTS)}",
        )
    return _SURICATA


@dataclass(frozen=True, slots=True)
class OutputEntry:
    """One indicator as an output writes it."""

    id: int
    indicator_type: IndicatorType
    value: str
    action: Action
    severity: Severity
    title: str
    last_updated_at: datetime
    sequence: int


TYPE_CODES: tuple[IndicatorType, ...] = tuple(IndicatorType)
"""Indicator types by code (the position), as rows carry them."""
ACTION_CODES: tuple[Action, ...] = tuple(Action)
SEVERITY_CODES: tuple[Severity, ...] = tuple(Severity)
"""Severities by code, which is also their rank (SEVERITY_RANK)."""
TYPE_TEXT = tuple(t.value for t in TYPE_CODES)
ACTION_TEXT = tuple(a.value for a in ACTION_CODES)
SEVERITY_TEXT = tuple(s.value for s in SEVERITY_CODES)

ID, TYPE, VALUE, ACTION, SEVERITY, TITLE, UPDATED, SEQUENCE = range(8)
"""Positions in an entry row: (id, type code, value, action code, severity code, title,
last update in microseconds since the Unix epoch, change-sequence value). Rows may carry more
fields after these (the store's device groups and authority); renderers ignore them."""


@dataclass(frozen=True, slots=True)
class EntryChunk:
    """Consecutive entries (in id order) as plain row tuples (see ID ... SEQUENCE), the form
    the store reads and the renderers write from, with no object per entry. Fields an output
    does not write may hold placeholders (title '', update and sequence 0)."""

    rows: Sequence[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def of(cls, entries: Sequence[OutputEntry]) -> EntryChunk:
        return cls(
            [
                (
                    e.id,
                    TYPE_CODES.index(e.indicator_type),
                    e.value,
                    ACTION_CODES.index(e.action),
                    SEVERITY_CODES.index(e.severity),
                    e.title,
                    micros(e.last_updated_at),
                    e.sequence,
                )
                for e in entries
            ]
        )

    def entries(self) -> Iterator[OutputEntry]:
        for row in self.rows:
            yield OutputEntry(
                row[ID],
                TYPE_CODES[row[TYPE]],
                row[VALUE],
                ACTION_CODES[row[ACTION]],
                SEVERITY_CODES[row[SEVERITY]],
                row[TITLE],
                from_micros(row[UPDATED]),
                row[SEQUENCE],
            )


def priority(entry: OutputEntry) -> tuple[int, float, int]:
    """Larger is kept first under a cap: severity (High > Medium > Low > Informational), then
    the most recently updated, then the lower (older) id."""
    return (SEVERITY_RANK[entry.severity], entry.last_updated_at.timestamp(), -entry.id)


@dataclass
class Tally:
    """Counted while the entries stream: how many the renderer wrote and how many Allowed
    indicators exempted (read them once the entries are consumed)."""

    written: int = 0
    exempted: int = 0


@dataclass
class Selection:
    """What one output holds. `entries` is a one-shot iterator in id order; `passthru` the
    domains an Allowed indicator carves out (RPZ only); `omitted_by_cap` how many entries the
    cap left out. `source`, when given, is the same one-shot stream as chunks of rows (what
    the service makes; `entries` then reads from it): read one or the other."""

    request: OutputRequest
    sequence: int
    changed_at: datetime | None
    entries: Iterator[OutputEntry]
    view_groups: tuple[str, ...]
    omitted_by_cap: int = 0
    passthru: Sequence[str] = ()
    tally: Tally = field(default_factory=Tally)
    source: Iterator[EntryChunk] | None = None

    def chunks(self) -> Iterator[EntryChunk]:
        """The entries as chunks of rows (one entry a chunk when made from `entries`, so that
        each is written before the next is read)."""
        if self.source is not None:
            return self.source
        return (EntryChunk.of([entry]) for entry in self.entries)


def entries_of(chunks: Iterator[EntryChunk]) -> Iterator[OutputEntry]:
    """The entries of a stream of chunks, in order (lazily: nothing is read before asked)."""
    for chunk in chunks:
        yield from chunk.entries()


def output_path(kind: OutputKind, name: str = "") -> str:
    """Where the output is served, below the API base (`/api`)."""
    if kind is OutputKind.EDL:
        return f"/outputs/edl/{name}.txt"
    if kind is OutputKind.RPZ:
        return "/outputs/rpz.zone"
    if kind is OutputKind.SURICATA:
        return "/outputs/suricata.rules"
    if kind is OutputKind.SURICATA_LIST:
        return f"/outputs/suricata/{name}.lst"
    return "/outputs/clamav.hsb"


def catalogue() -> list[tuple[OutputKind, str]]:
    """Every output: (kind, name), names being EDL types and Suricata list names."""
    out: list[tuple[OutputKind, str]] = [(OutputKind.EDL, name) for name in EDL_TYPES]
    out += [(OutputKind.RPZ, ""), (OutputKind.SURICATA, "")]
    out += [(OutputKind.SURICATA_LIST, name) for name in SURICATA_LISTS]
    out.append((OutputKind.CLAMAV, ""))
    return out
