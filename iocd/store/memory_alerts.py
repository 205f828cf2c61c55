"""AlertsTransaction in memory: alerts, devices and sightings of the in-memory store
(store.memory), the behaviour the SQL store (store.alerts) keeps durably."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from iocd.domain.alert_repeats import AlertRepeats, repeats_of, with_repeats
from iocd.domain.alert_sources import AlertSource, source_of
from iocd.domain.alerts import ALERT_FIELDS, Alert, AlertQuery, DedupeKey, alert_visible
from iocd.domain.devices import Device, SightingColumns, Sightings, widen_device
from iocd.domain.history import AuditEntry
from iocd.domain.new_alerts import NewAlerts
from iocd.domain.query import matches

if TYPE_CHECKING:
    from iocd.store.memory import _State

__all__ = ["MemoryAlerts", "tally"]


def tally(keys: Iterator[tuple[Any, ...]]) -> dict[tuple[str | None, ...], int]:
    """How many times each key comes (the grouped counts of `count_by`)."""
    counts: dict[tuple[str | None, ...], int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    return counts


def _alert_sort_key(name: str, alert: Alert) -> tuple[bool, Any]:
    value = ALERT_FIELDS.getters[name](alert)
    if isinstance(value, tuple):
        value = "|".join(value)
    return (value is not None, value)


class MemoryAlerts:
    def __init__(self, state: _State, append_audit: Callable[[Sequence[AuditEntry]], None]) -> None:
        self._s = state
        self.append_audit = append_audit

    def allocate_ids(self, count: int) -> int:
        first = self._s.next_alert_id
        self._s.next_alert_id += count
        return first

    def open_alerts(
        self, keys: Sequence[DedupeKey], since: datetime
    ) -> dict[DedupeKey, AlertRepeats]:
        wanted = set(keys)
        found: dict[DedupeKey, AlertRepeats] = {}
        for alert in sorted(self._s.alerts.values(), key=lambda a: a.id):
            if alert.key in wanted and alert.is_open and alert.last_event_time >= since:
                found[alert.key] = repeats_of(alert)
        return found

    def alert_sources(self, indicator_ids: Sequence[int]) -> dict[int, AlertSource]:
        found = (self._s.indicators.get(i) for i in indicator_ids)
        return {i.id: source_of(i) for i in found if i is not None}

    def record_repeats(self, repeats: Sequence[AlertRepeats], updated_at: datetime) -> None:
        for r in repeats:
            alert = self._s.alerts.get(r.alert_id)
            if alert is None:
                raise ValueError(f"alert id {r.alert_id} does not exist")
            self._s.alerts[r.alert_id] = with_repeats(alert, r, updated_at)

    def insert_new(self, new: NewAlerts) -> None:
        self.insert(new.alerts())

    def insert(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            if alert.id in self._s.alerts:
                raise ValueError(f"alert id {alert.id} exists")
            self._s.alerts[alert.id] = alert

    def update(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            if alert.id not in self._s.alerts:
                raise ValueError(f"alert id {alert.id} does not exist")
            self._s.alerts[alert.id] = alert

    def get(self, alert_id: int) -> Alert | None:
        return self._s.alerts.get(alert_id)

    def _select(self, query: AlertQuery) -> builtins.list[Alert]:
        getters = ALERT_FIELDS.getters
        rows = [
            a
            for a in self._s.alerts.values()
            if alert_visible(query.sight, a)
            and (query.where is None or matches(query.where, a, getters))
            and (query.after_id is None or a.id > query.after_id)
        ]
        rows.sort(key=lambda a: a.id)
        for name, descending in reversed(query.order_by):
            rows.sort(key=lambda a, n=name: _alert_sort_key(n, a), reverse=descending)  # type: ignore[misc]
        return rows

    def list(self, query: AlertQuery) -> builtins.list[Alert]:
        return self._select(query)[query.skip : query.skip + query.top]

    def count(self, query: AlertQuery) -> int:
        return len(self._select(query))

    def count_by(
        self, query: AlertQuery, fields: Sequence[str]
    ) -> dict[tuple[str | None, ...], int]:
        getters = [ALERT_FIELDS.getters[name] for name in fields]
        return tally(tuple(get(a) for get in getters) for a in self._select(query))

    def count_per_day(self, query: AlertQuery, since: datetime, days: int) -> builtins.list[int]:
        counts = [0] * max(days, 0)
        for alert in self._select(query):
            day = (alert.created_at - since) // timedelta(days=1)
            if 0 <= day < days:
                counts[day] += 1
        return counts

    def record_sightings(self, sightings: SightingColumns) -> None:
        for s in sightings.rows():
            pair = (s.indicator_id, s.device_id)
            new_device = pair not in self._s.sighting_devices
            self._s.sighting_devices.add(pair)
            known = self._s.sightings.get(s.indicator_id)
            if known is None:
                self._s.sightings[s.indicator_id] = Sightings(
                    s.indicator_id, s.count, 1, s.first_seen, s.last_seen
                )
            else:
                self._s.sightings[s.indicator_id] = Sightings(
                    s.indicator_id,
                    known.count + s.count,
                    known.device_count + new_device,
                    min(known.first_seen, s.first_seen),
                    max(known.last_seen, s.last_seen),
                )

    def sightings(self, indicator_ids: Sequence[int]) -> dict[int, Sightings]:
        return {i: self._s.sightings[i] for i in indicator_ids if i in self._s.sightings}

    def upsert_devices(self, devices: Sequence[Device]) -> None:
        for device in devices:
            known = self._s.devices.get(device.device_id)
            self._s.devices[device.device_id] = (
                device if known is None else widen_device(known, device)
            )

    def get_device(self, device_id: str) -> Device | None:
        return self._s.devices.get(device_id)

    def list_devices(self, limit: int, after: str | None = None) -> builtins.list[Device]:
        ids = sorted(k for k in self._s.devices if after is None or k > after)
        return [self._s.devices[k] for k in ids[: max(limit, 0)]]
