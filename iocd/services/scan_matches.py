"""A scanned batch's matches as columns: its sightings and its alerting detections.

`matching.batch.match_batch` answers one entry per matched (event, entity) and a decision per
distinct outcome. What the engine records follows from each outcome's decision: every matched
indicator is sighted (domain.devices.matched_indicator_ids) and every alerting candidate is a
detection. So each distinct decision is read once (`Outcomes`, remembered per decision object:
the index hands the same object to every event it decides alike) and its indicators are spread
over the entries with array operations, and the sightings are summed per (indicator, device)
with them too. Python runs once per alerting match (its entity, the dedupe key); a new alert
reads only the columns it shows (`AlertFacts`), and whole events become objects only for
`--output`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from iocd.domain.alerts import DETECTION_SOURCE, Detection, EventValues
from iocd.domain.decision import ListedIndicator
from iocd.domain.detection_columns import AlertFacts, DetectionColumns
from iocd.domain.devices import SightingColumns, matched_indicator_ids
from iocd.domain.instants import micros
from iocd.domain.types import IndicatorType
from iocd.matching.batch_decide import BatchMatches
from iocd.matching.columns import bytes_to_ip
from iocd.matching.compile import expand
from iocd.matching.index import EntityDecision
from iocd.services.device_directory import DeviceCodes
from iocd.services.event_entities import matched_events, matched_value

__all__ = ["Filter", "Outcomes", "scan_matches"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Filter:
    """Which matches count: only these indicator ids (a retro-hunt), and not these ids in
    events at or after `skip_since` (what a retro-hunt over that window has counted)."""

    only: frozenset[int] | None = None
    skip: frozenset[int] | None = None
    skip_since: datetime | None = None

    def keep(self, ids: IntArray, times: IntArray) -> npt.NDArray[np.bool_]:
        kept = np.ones(len(ids), dtype=np.bool_)
        if self.only is not None:
            kept &= np.isin(ids, np.fromiter(self.only, dtype=np.int64))
        if self.skip:
            skipped = np.isin(ids, np.fromiter(self.skip, dtype=np.int64))
            if self.skip_since is not None:
                skipped &= times >= micros(self.skip_since)
            kept &= ~skipped
        return kept


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What one decision records: the indicators it sighted, and those it alerts on."""

    sighted: tuple[int, ...]
    alerting: tuple[ListedIndicator, ...]


class Outcomes:
    """Each decision object's `_Outcome`, remembered (bounded) while the object is held."""

    LIMIT = 262_144

    def __init__(self) -> None:
        self._known: dict[int, tuple[EntityDecision, _Outcome]] = {}

    def of(self, decided: tuple[EntityDecision, ...]) -> list[_Outcome]:
        out = []
        for found in decided:
            known = self._known.get(id(found))
            if known is None or known[0] is not found:
                decision = found.decision
                outcome = _Outcome(
                    tuple(matched_indicator_ids(decision)),
                    tuple(c.indicator for c in decision.alerts),
                )
                if len(self._known) >= self.LIMIT:
                    self._known.clear()
                known = self._known[id(found)] = (found, outcome)
            out.append(known[1])
        return out


def _spread(hits: BatchMatches, counts: list[int]) -> tuple[IntArray, IntArray]:
    """(entry, item) for every item of every entry's outcome, items numbered across the
    outcomes in order (outcome k's items start at the sum of the counts before it)."""
    starts = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(np.array(counts, dtype=np.int32), out=starts[1:])
    return expand(starts, hits.outcomes.astype(np.int64))


def scan_matches(
    batch: pa.RecordBatch,
    hits: BatchMatches,
    outcomes: Outcomes,
    chosen: Filter,
    historical: bool,
    devices: DeviceCodes,
) -> tuple[SightingColumns, DetectionColumns]:
    """The sightings (one per indicator and device) and the alerting detections of a batch
    whose matches are `hits` (`devices`: the batch's `device_codes`)."""
    read = outcomes.of(hits.decided)
    device_names, device_codes = devices
    times = batch.column("time").cast(pa.int64()).to_numpy(zero_copy_only=False)
    return (
        _sightings(hits, read, chosen, device_names, device_codes, times),
        _detections(batch, hits, read, chosen, historical, device_names, device_codes, times),
    )


def _sightings(
    hits: BatchMatches,
    read: list[_Outcome],
    chosen: Filter,
    device_names: list[str],
    device_codes: IntArray,
    times: IntArray,
) -> SightingColumns:
    entry, item = _spread(hits, [len(o.sighted) for o in read])
    ids = np.array([i for o in read for i in o.sighted], dtype=np.int64)[item]
    rows = hits.rows[entry]
    at = times[rows]
    kept = chosen.keep(ids, at)
    ids, rows, at = ids[kept], rows[kept], at[kept]
    if not len(ids):
        return SightingColumns.of([])
    pairs, inverse = np.unique(ids * len(device_names) + device_codes[rows], return_inverse=True)
    inverse = inverse.ravel()
    first = np.full(len(pairs), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(pairs), np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, inverse, at)
    np.maximum.at(last, inverse, at)
    counts = np.bincount(inverse, minlength=len(pairs))
    indicator, device = np.divmod(pairs, len(device_names))
    return SightingColumns(
        indicator,
        [device_names[d] for d in device.tolist()],
        first,
        last,
        counts.astype(np.int64),
    )


def _detections(
    batch: pa.RecordBatch,
    hits: BatchMatches,
    read: list[_Outcome],
    chosen: Filter,
    historical: bool,
    device_names: list[str],
    device_codes: IntArray,
    times: IntArray,
) -> DetectionColumns:
    entry, item = _spread(hits, [len(o.alerting) for o in read])
    alerting = [i for o in read for i in o.alerting]
    ids = np.array([i.id for i in alerting], dtype=np.int64)[item]
    rows = hits.rows[entry]
    kept = chosen.keep(ids, times[rows])
    entry, item, rows = entry[kept], item[kept], rows[kept]
    indicators = [alerting[i] for i in item.tolist()]
    values = _entity_values(batch, rows, indicators)
    matched = [
        matched_value(indicator, *value)
        for indicator, value in zip(indicators, values, strict=True)
    ]
    entities = [entity for _, entity in matched]
    devices = [device_names[d] for d in device_codes[rows].tolist()]
    indicator_ids = [i.id for i in indicators]
    codes: dict[tuple[int, str, str], int] = {}
    key_codes = [
        codes.setdefault(key, len(codes))
        for key in zip(indicator_ids, devices, entities, strict=True)
    ]
    decisions = [hits.decided[o].decision for o in hits.outcomes[entry].tolist()]

    def detections(positions: Sequence[int]) -> list[Detection]:
        chosen_rows = rows[list(positions)]
        events = matched_events(batch, chosen_rows)
        out = []
        for position, row in zip(positions, chosen_rows.tolist(), strict=True):
            event = events[row]
            entity_type, entity = matched[position]
            out.append(
                Detection(
                    indicator_ids[position],
                    event,
                    entity_type,
                    entity,
                    decisions[position],
                    historical,
                )
            )
        return out

    def facts(positions: Sequence[int]) -> list[AlertFacts]:
        chosen_rows = pa.array(rows[list(positions)])
        taken = batch.select(_FACT_COLUMNS).take(chosen_rows)
        columns = [_texts(name, taken.column(name).to_pylist()) for name in _FACT_COLUMNS]
        return [
            AlertFacts(matched[position][0], name, group, DETECTION_SOURCE, EventValues(*values))
            for position, (name, group, *values) in zip(
                positions, zip(*columns, strict=True), strict=True
            )
        ]

    return DetectionColumns(
        indicator_ids,
        devices,
        entities,
        times[rows],
        np.full(len(rows), historical, dtype=np.bool_),
        decisions,
        np.array(key_codes, dtype=np.int64),
        facts,
        detections,
    )


_FACT_COLUMNS = [
    "device_name",
    "device_group",
    "sha256",
    "sha1",
    "md5",
    "file_name",
    "file_path",
    "remote_port",
    "url",
    "domain",
]
"""What a new alert takes from its event: the device's name and group, EventValues' fields."""
_VALUE_COLUMNS = ("sha256", "sha1", "md5", "remote_ip", "url", "domain", "sni")
_FILE_VALUES = frozenset({"sha256", "sha1", "md5"})
_READS: dict[IndicatorType, frozenset[str]] = {
    IndicatorType.IP_ADDRESS: frozenset({"remote_ip"}),
    IndicatorType.URL: frozenset({"url"}),
    IndicatorType.DOMAIN_NAME: frozenset({"domain", "sni"}),
}
"""The event values `matched_value` reads for an indicator type (file types: the hashes)."""


def _entity_values(
    batch: pa.RecordBatch, rows: IntArray, indicators: list[ListedIndicator]
) -> list[tuple[str | None, ...]]:
    """Per detection, the values `matched_value` takes after the indicator (sha256, sha1,
    md5, remote_ip, url, domain, sni as text); only those its indicator's type reads are
    filled, each column converted only for the rows that need it."""
    reads = [_READS.get(i.indicator_type, _FILE_VALUES) for i in indicators]
    columns: list[list[str | None]] = []
    for name in _VALUE_COLUMNS:
        values: list[str | None] = [None] * len(rows)
        wanted = [position for position, read in enumerate(reads) if name in read]
        if wanted:
            found = _texts(name, batch.column(name).take(pa.array(rows[wanted])).to_pylist())
            for position, value in zip(wanted, found, strict=True):
                values[position] = value
        columns.append(values)
    return list(zip(*columns, strict=True))


def _texts(name: str, values: list[Any]) -> list[Any]:
    """Values of an event column as events hold them: digests as hex, addresses as text."""
    if name in _FILE_VALUES:
        return [None if v is None else v.hex() for v in values]
    if name == "remote_ip":
        return [None if v is None else bytes_to_ip(v) for v in values]
    return values
