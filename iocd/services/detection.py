"""The detection engine's use cases: ingest, scan, retro-hunt, explain (issue 4, SPEC 4-6).

Telemetry arrives through a door (API ingest, `iocd scan`), is stored durably (`TelemetryStore`),
and is scanned in batches: each event gets its device group, the compiled index finds the
indicators that match it, precedence decides (policy.precedence), and what alerts becomes an
alert (AlertService, deduplicated) while every match counts as a sighting. Creating or changing
an indicator searches stored telemetry over the look-back window (retro-hunt); what it finds is
raised as historical alerts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from iocd.clock import Clock
from iocd.domain.alerts import Detection
from iocd.domain.decision import Decision, ListedIndicator
from iocd.domain.detection_columns import DetectionColumns
from iocd.domain.devices import Device, SightingColumns
from iocd.domain.principal import Principal, Role
from iocd.errors import Forbidden, InvalidInput
from iocd.matching import batch as batch_matching
from iocd.matching import single
from iocd.services.alerts import AlertService
from iocd.services.device_directory import (
    GROUPS_TTL_SECONDS,
    DeviceDirectory,
    RecordedDevices,
    device_codes,
    devices_of,
)
from iocd.services.event_entities import entity_of, explain_event, matched_entity
from iocd.services.index_keeper import IndexKeeper, Refresh, SavedIndex, listed
from iocd.services.ports import Store
from iocd.services.scan_matches import Filter, Outcomes, scan_matches
from iocd.services.telemetry_port import TelemetryStore

CURSOR_KEY = "detection.cursor"
HUNTED_KEY = "detection.hunted_through"
HUNT_PAGE = 10_000
SEGMENTS_PER_STEP = 64
SCAN_BATCH = 262_144
"""Events per scanned batch: each batch is one match and one store transaction."""


@dataclass
class ScanReport:
    """What a scan did. `detections` is kept only when asked (`iocd scan --output`)."""

    events: int = 0
    matched_events: int = 0
    alerts_created: int = 0
    alerts_updated: int = 0
    detections: list[Detection] = field(default_factory=list)

    def add(self, other: ScanReport) -> None:
        self.events += other.events
        self.matched_events += other.matched_events
        self.alerts_created += other.alerts_created
        self.alerts_updated += other.alerts_updated
        self.detections.extend(other.detections)


@dataclass(frozen=True, slots=True)
class _Found:
    """What matching one batch found, before it is recorded."""

    report: ScanReport
    devices: list[Device]
    sightings: SightingColumns
    detections: DetectionColumns


@dataclass(frozen=True, slots=True)
class ExplainedEntity:
    entity_type: str
    entity: str
    decision: Decision


@dataclass(frozen=True, slots=True)
class Explanation:
    device_id: str
    device_name: str
    device_group: str
    items: tuple[ExplainedEntity, ...]


@dataclass(frozen=True, slots=True)
class StepReport:
    refresh: Refresh
    scanned: ScanReport
    hunted: ScanReport


class DetectionService:
    def __init__(
        self,
        *,
        store: Store,
        telemetry: TelemetryStore,
        alerts: AlertService,
        clock: Clock,
        lookback: timedelta = timedelta(days=30),
        retention: timedelta = timedelta(days=30),
        saved_index: SavedIndex | None = None,
    ) -> None:
        self._store = store
        self._telemetry = telemetry
        self._alerts = alerts
        self._clock = clock
        self._lookback = lookback
        self._retention = retention
        self.keeper = IndexKeeper(store, clock, saved_index)
        self.devices = DeviceDirectory(store, clock)
        self._recorded = RecordedDevices()
        self._outcomes = Outcomes()
        self._scan_lock = threading.Lock()
        self.wakeup = threading.Event()
        self._hunt_since: datetime | None = None

    # -- ingest ----------------------------------------------------------------------------

    def ingest(self, batches: Iterable[pa.RecordBatch], principal: Principal) -> int:
        """Store the events durably; the background scan picks them up. Returns rows stored."""
        del principal  # who sent it is checked by the door; events carry their own devices
        stored = 0
        for batch in batches:
            if batch.num_rows:
                stored += self._telemetry.append(batch).rows
        if stored:
            self.wakeup.set()
        return stored

    def backlog(self) -> int:
        """Stored segments not yet scanned (up to a bound)."""
        return len(self._telemetry.segments_after(self._cursor(), SEGMENTS_PER_STEP * 8))

    # -- scanning -----------------------------------------------------------------------------

    def scan(
        self,
        batch: pa.RecordBatch,
        *,
        keep: bool = False,
        record: bool = True,
        only: frozenset[int] | None = None,
        skip: frozenset[int] | None = None,
        skip_since: datetime | None = None,
        historical: bool = False,
    ) -> ScanReport:
        """Match one batch against the list, raise alerts and record sightings.

        `only` restricts alerts and sightings to those indicator ids (a retro-hunt must not
        count old matches of other indicators twice), `skip` leaves those ids out of events
        at or after `skip_since` (what a retro-hunt over that window has just counted);
        `record=False` writes nothing.
        """
        found = self._find(batch, Filter(only, skip, skip_since), historical)
        if record:
            self._record(found)
        if keep:
            found.report.detections = found.detections.detections(range(len(found.detections)))
        return found.report

    def scan_many(
        self, batches: Iterable[pa.RecordBatch], *, historical: bool = False
    ) -> Iterator[ScanReport]:
        """`scan` each batch and record it, in order, answering each batch's report: a writer
        thread records a batch while the next one is matched (SQLite and Arrow release the
        GIL, so on two cores the two overlap). Stopping early waits for the write in hand."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="iocd-scan-writer") as writer:
            pending: Future[ScanReport] | None = None
            for batch in batches:
                found = self._find(batch, Filter(), historical)
                if pending is not None:
                    yield pending.result()
                pending = writer.submit(self._record, found)
            if pending is not None:
                yield pending.result()

    def _find(self, batch: pa.RecordBatch, chosen: Filter, historical: bool) -> _Found:
        report = ScanReport(events=batch.num_rows)
        if not batch.num_rows:
            return _Found(report, [], SightingColumns.of([]), DetectionColumns.of([]))
        grouped = self.devices.with_groups(batch)
        hits = batch_matching.match_batch(self.keeper.current, grouped)
        report.matched_events = len(np.unique(hits.rows))
        coded = device_codes(grouped)
        sightings, detections = scan_matches(
            grouped, hits, self._outcomes, chosen, historical, coded
        )
        return _Found(report, devices_of(grouped, coded), sightings, detections)

    def _record(self, found: _Found) -> ScanReport:
        """Write what a batch found (one transaction); answers its report, counted."""
        devices = self._recorded.news(found.devices)
        outcome = self._alerts.record_scan(devices, found.sightings, found.detections)
        self._recorded.written(devices)
        found.report.alerts_created += outcome.created
        found.report.alerts_updated += outcome.updated
        return found.report

    def scan_pending(
        self,
        *,
        counted: frozenset[int] = frozenset(),
        through: str | None = None,
        hunted_since: datetime | None = None,
    ) -> ScanReport:
        """Scan every stored segment not scanned yet, moving the persisted cursor after each.

        Matches of the `counted` indicators in segments up to `through`, in events since
        `hunted_since`, are left out: a retro-hunt has just raised them.
        """
        report = ScanReport()
        with self._scan_lock:
            while True:
                segments = self._telemetry.segments_after(self._cursor(), SEGMENTS_PER_STEP)
                if not segments:
                    return report
                for segment in segments:
                    skip = counted if through is not None and segment.cursor <= through else None
                    table = self._telemetry.read_segment(segment.segment_id)
                    for batch in table.to_batches(max_chunksize=SCAN_BATCH):
                        report.add(self.scan(batch, skip=skip, skip_since=hunted_since))
                    self._save_cursor(segment.cursor)

    def _last_segment(self) -> str | None:
        last = cursor = self._cursor()
        while segments := self._telemetry.segments_after(cursor, 4096):
            last = cursor = segments[-1].cursor
        return last

    def _cursor(self) -> str | None:
        with self._store.accounts(readonly=True) as tx:
            return tx.get_setting(CURSOR_KEY)

    def _save_cursor(self, cursor: str) -> None:
        self._save_setting(CURSOR_KEY, cursor)

    def _save_setting(self, key: str, value: str) -> None:
        with self._store.accounts() as tx:
            tx.put_setting(key, value)

    # -- retro-hunt -------------------------------------------------------------------------

    def retro_hunt(self, indicators: Iterable[ListedIndicator]) -> ScanReport:
        """Search stored telemetry of the look-back window for these indicators; raise what
        they decide as historical alerts."""
        chosen = list(indicators)
        report = ScanReport()
        if not chosen:
            return report
        only = frozenset(i.id for i in chosen)
        self._hunt_since = self._clock.now() - self._lookback
        for batch in self._telemetry.hunt(chosen, self._hunt_since, None):
            report.add(self.scan(batch, only=only, historical=True))
        return report

    # -- the background loop ------------------------------------------------------------------

    def step(self) -> StepReport:
        """One pass of the background engine (and of `iocd hunt`): fold indicator changes into
        the index, retro-hunt the indicators created or changed since the last hunt over stored
        telemetry, then scan the telemetry stored since the last pass.

        How far hunting has got is kept in the store (a change-sequence value), so indicators
        created while no server ran are hunted at the next start. Stored telemetry not scanned
        yet is searched by the retro-hunt too; the scan that follows leaves those indicators
        out of the same segments, so nothing counts twice. (A segment stored while the hunt
        runs is not in the hunt's snapshot and is scanned as usual.)
        """
        refresh = self.keeper.refresh()
        hunted = ScanReport()
        counted: set[int] = set()
        through: str | None = None
        sequence = refresh.sequence
        hunted_through = self._hunted_through(sequence)
        while hunted_through < sequence:
            changed, reached = self._changed_since(hunted_through, sequence)
            if through is None:
                through = self._last_segment()
            hunted.add(self.retro_hunt(changed))
            counted.update(i.id for i in changed)
            hunted_through = reached
            self._save_setting(HUNTED_KEY, str(reached))
        scanned = self.scan_pending(
            counted=frozenset(counted), through=through, hunted_since=self._hunt_since
        )
        return StepReport(refresh, scanned, hunted)

    def _hunted_through(self, sequence: int) -> int:
        with self._store.accounts(readonly=True) as tx:
            saved = tx.get_setting(HUNTED_KEY)
        return int(saved) if saved is not None else 0

    def _changed_since(self, after: int, upto: int) -> tuple[list[ListedIndicator], int]:
        """Active indicators changed in (after, upto], a page at a time; and how far it got."""
        now = self._clock.now()
        with self._store.transaction(readonly=True) as tx:
            changes = [c for c in tx.changes_since(after, HUNT_PAGE) if c.sequence <= upto]
            ids = sorted({c.indicator_id for c in changes})
            found = [tx.get(i) for i in ids]
        reached = changes[-1].sequence if changes else upto
        active = [listed(i) for i in found if i is not None and i.is_active(now)]
        return active, reached

    def purge(self) -> int:
        """Retention: drop stored telemetry older than the retention window."""
        return self._telemetry.purge(self._clock.now() - self._retention)

    def compact(self) -> None:
        """Merge the small files of today and yesterday (ingest writes one per request), so
        scans and retro-hunts read a few large files."""
        today = self._clock.now().date()
        for day in (today - timedelta(days=1), today):
            self._telemetry.compact(day)

    # -- explain -------------------------------------------------------------------------------

    def explain(self, device: str, entity: Mapping[str, str], principal: Principal) -> Explanation:
        """The decision for each given entity (sha256, sha1, md5, certificate, ip, domain,
        url) on one device, with its trace."""
        if not entity:
            raise InvalidInput("entity", "give a hash, certificate, ip, domain or url to explain")
        known = self._alerts.device(device)
        device_id = known.device_id if known else device
        name = (known.name if known else None) or device
        group = self.devices.group_of(name)
        if principal.role is Role.ANALYST and group not in principal.device_groups:
            raise Forbidden(f"device {device} is in group {group!r}, outside {principal.label}'s")
        self.keeper.refresh()
        event = explain_event(device_id, name, group, entity, self._clock)
        items = tuple(
            ExplainedEntity(*entity_of(d.entity, event), d.decision)
            for d in single.decide_event(self.keeper.current, event)
        )
        return Explanation(device_id, name, group, items)


__all__ = [
    "GROUPS_TTL_SECONDS",
    "DetectionService",
    "Explanation",
    "ScanReport",
    "StepReport",
    "matched_entity",
]
