"""The alert use cases: raise (deduplicated), list, get, triage; sightings and devices.

Raising (SPEC section 6): each `Detection` becomes an alert whose title, description, severity,
category, techniques and recommended actions come from its indicator. Repeats of one
(indicator, device, entity) fold into one open alert while each repeat's event lies within the
dedupe window of that alert's last event: the alert's last event time, occurrence count and
evidence time move instead of a new alert being raised. A Resolved alert is never reopened by a
repeat: the repeat raises a new alert. An alert is historical (a retro-hunt find) while every
detection folded into it is.

Reading and triage follow policy.access: analysts see and change the alerts of devices in their
groups, read-only users change nothing, applications holding only Ti.ReadWrite see the alerts of
the indicators they created; a read or change outside the caller's scope is refused and audited.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from iocd.clock import Clock
from iocd.domain.alert_patch import AlertPatch, apply_patch, patch_record
from iocd.domain.alert_repeats import AlertRepeats
from iocd.domain.alert_runs import alert_runs
from iocd.domain.alerts import Alert, AlertQuery, AlertStatus, Detection
from iocd.domain.decision import Decision
from iocd.domain.detection_columns import DetectionColumns
from iocd.domain.devices import Device, Sighting, SightingColumns, Sightings
from iocd.domain.history import AuditEntry
from iocd.domain.instants import MICROSECOND, from_micros, micros
from iocd.domain.new_alerts import NewAlerts
from iocd.domain.principal import Principal
from iocd.errors import Forbidden, InvalidInput, NotFound
from iocd.policy.access import can_read_alert, check_alert_write, sight_for
from iocd.services.ports import AlertsTransaction, Store

__all__ = ["DEFAULT_DEDUPE_WINDOW", "AlertPage", "AlertService", "Raised"]

DEFAULT_DEDUPE_WINDOW = timedelta(minutes=1440)


@dataclass(frozen=True, slots=True)
class Raised:
    """What one `raise_alerts` call did: the alerts it created or updated (each once, in the
    order first touched) and how many of each."""

    alerts: list[Alert]
    created: int
    updated: int


@dataclass(frozen=True, slots=True)
class AlertPage:
    items: list[Alert]
    total: int | None
    has_more: bool


@dataclass(slots=True)
class _Slot:
    """One alert while a batch is being raised: its repeats, and the position (in the batch's
    detections) of the detection that raises it when it is new (None for a stored alert)."""

    repeats: AlertRepeats
    first: int | None


class AlertService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW,
        max_page: int = 10_000,
    ) -> None:
        self._store = store
        self._clock = clock
        self._window = dedupe_window
        self._max_page = max_page

    @property
    def dedupe_window(self) -> timedelta:
        return self._window

    # -- raising ----------------------------------------------------------------------------

    def raise_alerts(self, detections: Sequence[Detection], *, answer: bool = True) -> Raised:
        """Create or update the alerts of these detections, in one transaction.

        Detections whose indicator does not exist are skipped (the engine never makes them).
        With `answer=False` the alerts are not read back (`Raised.alerts` is empty).
        """
        if not detections:
            return Raised([], 0, 0)
        with self._store.alerts() as tx:
            return self._raise(tx, DetectionColumns.of(detections), answer)

    def record_scan(
        self,
        devices: Sequence[Device],
        sightings: SightingColumns,
        detections: DetectionColumns,
    ) -> Raised:
        """What one scanned batch found, in one transaction: the devices it showed, the
        sightings of its matches and its alerts (counted, not read back)."""
        with self._store.alerts() as tx:
            if devices:
                tx.upsert_devices(devices)
            if len(sightings):
                tx.record_sightings(sightings)
            return self._raise(tx, detections, False) if len(detections) else Raised([], 0, 0)

    def _raise(self, tx: AlertsTransaction, found: DetectionColumns, answer: bool) -> Raised:
        """Deduplicate (domain.alert_runs) in key and time order: each key's first detections
        fold into its stored open alert while they fit its window, the rest make new alerts.
        The alerts touched are written in the order their first detection came."""
        now = self._clock.now()
        order = np.lexsort((found.times, found.key_codes))
        times = found.times[order]
        historical = found.historical[order]
        codes = found.key_codes[order]
        key_start = np.ones(len(order), dtype=np.bool_)
        key_start[1:] = codes[1:] != codes[:-1]
        key_first = np.flatnonzero(key_start)
        keys = [found.key(int(i)) for i in order[key_first]]
        window = self._window // MICROSECOND
        stored = tx.open_alerts(keys, from_micros(int(times.min())) - self._window)
        known = [stored.get(k) for k in keys]
        runs = alert_runs(
            key_start,
            times,
            np.array([r is not None for r in known], dtype=np.bool_),
            np.array([0 if r is None else r.first_micros for r in known], np.int64),
            np.array([0 if r is None else r.last_micros for r in known], np.int64),
            window,
        )
        nonhistorical = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(~historical, out=nonhistorical[1:])

        def spans(
            first: npt.NDArray[np.int64], last: npt.NDArray[np.int64]
        ) -> Iterator[tuple[int, int, int, int, bool, Decision]]:
            """Per span of sorted detections first..last (inclusive): its first position, its
            first and last times, how many, whether all are historical, the last's decision
            (worked out over arrays; the loops below only fold)."""
            decisions = found.decisions
            yield from zip(
                first.tolist(),
                times[first].tolist(),
                times[last].tolist(),
                (last - first + 1).tolist(),
                (nonhistorical[last + 1] == nonhistorical[first]).tolist(),
                [decisions[i] for i in order[last].tolist()],
                strict=True,
            )

        slots: list[_Slot] = []
        firsts: list[int] = []  # the sorted position of each slot's first detection
        stored_keys = np.flatnonzero(runs.stored_count)
        stored_first = key_first[stored_keys]
        stored_spans = spans(stored_first, stored_first + runs.stored_count[stored_keys] - 1)
        for key, (first, t0, t1, count, all_historical, decision) in zip(
            stored_keys.tolist(), stored_spans, strict=True
        ):
            repeats = known[key]
            assert repeats is not None
            repeats.fold(t0, t1, count, all_historical, decision)
            slots.append(_Slot(repeats, None))
            firsts.append(first)
        new_positions = order[runs.run_first].tolist()
        for position, (first, t0, t1, count, all_historical, decision) in zip(
            new_positions, spans(runs.run_first, runs.run_last), strict=True
        ):
            repeats = AlertRepeats.first(found.key(position), t0, all_historical, decision)
            if count > 1:  # the rest of its run; the latest decision is the run's last
                repeats.fold(t0, t1, count - 1, all_historical, decision)
            slots.append(_Slot(repeats, position))
            firsts.append(first)
        rank = np.empty(len(order), dtype=np.int64)
        rank[np.lexsort((order, times))] = np.arange(len(order), dtype=np.int64)
        in_order = np.argsort(rank[np.array(firsts, dtype=np.int64)], kind="stable").tolist()
        touched = [slots[i] for i in in_order]  # time, then the order handed in
        return self._write(tx, found, touched, now, answer)

    def raise_alert(self, alert: Alert) -> tuple[Alert, bool]:
        """Store an alert built elsewhere (an external verdict), or fold it into the open alert
        of its dedupe key within the window; answers the stored alert and whether it is new."""
        t = alert.last_event_time
        with self._store.alerts() as tx:
            stored = tx.open_alerts([alert.key], t - self._window).get(alert.key)
            if stored is not None and stored.within(micros(t), self._window // MICROSECOND):
                stored.repeat(micros(t), alert.historical, alert.decision)
                tx.record_repeats([stored], alert.last_updated_at)
                folded = tx.get(stored.alert_id)
                assert folded is not None
                return folded, False
            created = replace(alert, id=tx.allocate_ids(1))
            tx.insert([created])
            return created, True

    def _write(
        self,
        tx: AlertsTransaction,
        found: DetectionColumns,
        touched: list[_Slot],
        now: datetime,
        answer: bool,
    ) -> Raised:
        firsts = [s.first for s in touched if s.first is not None]
        wanted = sorted({found.indicator_ids[p] for p in firsts})
        indicators = tx.alert_sources(wanted) if firsts else {}
        kept = [s for s in touched if s.first is None or found.indicator_ids[s.first] in indicators]
        news = [s for s in kept if s.first is not None]
        created = NewAlerts([], [], [], [], now)
        if news:
            first_id = tx.allocate_ids(len(news))
            ids = list(range(first_id, first_id + len(news)))
            for alert_id, slot in zip(ids, news, strict=True):
                slot.repeats.alert_id = alert_id
            created = NewAlerts(
                ids,
                found.facts([s.first for s in news if s.first is not None]),
                [indicators[s.repeats.key[0]] for s in news],
                [s.repeats for s in news],
                now,
            )
            tx.insert_new(created)
        repeated = [s.repeats for s in kept if s.first is None]
        tx.record_repeats(repeated, now)
        alerts: list[Alert] = []
        if answer:
            new_alerts = {a.id: a for a in created.alerts()}
            for slot in kept:
                alert = new_alerts.get(slot.repeats.alert_id) or tx.get(slot.repeats.alert_id)
                assert alert is not None
                alerts.append(alert)
        return Raised(alerts, len(news), len(repeated))

    # -- sightings and devices ----------------------------------------------------------------

    def record_sightings(self, sightings: Sequence[Sighting]) -> None:
        """Fold one scanned batch's matches into the indicators' sightings (one transaction)."""
        if sightings:
            with self._store.alerts() as tx:
                tx.record_sightings(SightingColumns.of(sightings))  # merged per pair

    def sightings_for(self, indicator_ids: Sequence[int]) -> dict[int, Sightings]:
        """Sightings by indicator id; indicators that never matched are absent."""
        if not indicator_ids:
            return {}
        with self._store.alerts(readonly=True) as tx:
            return tx.sightings(indicator_ids)

    def record_devices(self, devices: Sequence[Device]) -> None:
        if devices:
            with self._store.alerts() as tx:
                tx.upsert_devices(devices)

    def device(self, device_id: str) -> Device | None:
        with self._store.alerts(readonly=True) as tx:
            return tx.get_device(device_id)

    def devices(self, limit: int = 1000, after: str | None = None) -> builtins.list[Device]:
        with self._store.alerts(readonly=True) as tx:
            return tx.list_devices(limit, after)

    # -- reads ------------------------------------------------------------------------------

    def list(self, principal: Principal, query: AlertQuery, *, count: bool = False) -> AlertPage:
        """A page of the alerts the principal may see (`total` only when `count`)."""
        if query.top > self._max_page or query.top < 0 or query.skip < 0:
            raise InvalidInput("$top", f"must be between 0 and {self._max_page}", "ODataError")
        scoped = replace(query, sight=sight_for(principal), top=query.top + 1)
        with self._store.alerts(readonly=True) as tx:
            rows = tx.list(scoped)
            total = tx.count(replace(scoped, after_id=None)) if count else None
        return AlertPage(rows[: query.top], total, len(rows) > query.top)

    def count_by(
        self, principal: Principal, fields: Sequence[str], query: AlertQuery | None = None
    ) -> dict[tuple[str | None, ...], int]:
        """The alerts the principal may see, counted per distinct tuple of these text fields."""
        scoped = replace(query or AlertQuery(), sight=sight_for(principal))
        with self._store.alerts(readonly=True) as tx:
            return tx.count_by(scoped, fields)

    def count_per_day(self, principal: Principal, since: datetime, days: int) -> builtins.list[int]:
        """Alerts the principal may see created on each of `days` days from `since`."""
        with self._store.alerts(readonly=True) as tx:
            return tx.count_per_day(AlertQuery(sight=sight_for(principal)), since, days)

    def get(self, principal: Principal, alert_id: int) -> Alert:
        """One alert; outside the caller's scope it is refused and audited."""
        with self._store.alerts(readonly=True) as tx:
            alert = tx.get(alert_id)
        if alert is None:
            raise NotFound(f"alert {alert_id} not found")
        if not can_read_alert(principal, alert):
            error = Forbidden(f"alert {alert_id} is outside the scope of {principal.label}")
            with self._store.alerts() as tx:
                tx.append_audit([self._denial(principal, alert, error)])
            raise error
        return alert

    # -- triage -----------------------------------------------------------------------------

    def update(self, principal: Principal, alert_id: int, patch: AlertPatch) -> Alert:
        """Change status, classification, determination or assignee, or add a comment.
        A patch that changes nothing writes nothing and answers the alert as it is."""
        denied: Forbidden | None = None
        with self._store.alerts() as tx:
            alert = tx.get(alert_id)
            if alert is None:
                raise NotFound(f"alert {alert_id} not found")
            try:
                check_alert_write(principal, alert)
            except Forbidden as error:
                denied = error
                tx.append_audit([self._denial(principal, alert, error)])
            if denied is None:
                now = self._clock.now()
                changed = apply_patch(alert, patch, principal.name, now)
                if changed is not alert:
                    tx.update([changed])
                    record = {"alertId": str(alert.id), **patch_record(alert, changed)}
                    tx.append_audit(
                        [
                            AuditEntry(
                                now, principal.name, principal.door, "alert-updated", None, record
                            )
                        ]
                    )
                alert = changed
        if denied is not None:
            raise denied
        return alert

    def resolve(
        self,
        principal: Principal,
        alert_id: int,
        patch: AlertPatch | None = None,
    ) -> Alert:
        """Resolve an alert, with whatever else the patch sets (classification, comment...)."""
        return self.update(principal, alert_id, replace(patch or AlertPatch(), status=_RESOLVED))

    def _denial(self, principal: Principal, alert: Alert, error: Forbidden) -> AuditEntry:
        return AuditEntry(
            self._clock.now(),
            principal.name,
            principal.door,
            "denied",
            None,
            {"alertId": str(alert.id), "reason": error.message},
        )


_RESOLVED = AlertStatus.RESOLVED
