"""Reports from agents: telemetry and alerts in batches, delivered exactly once (issue 6.5).

A batch carries an id the agent chose; a batch delivered again (a retry after a lost answer) is
acknowledged as a duplicate and stored nothing. Events go to the detection engine like any
telemetry. Each agent alert names the indicator that decided and the event; the server rebuilds
the decision from that indicator and the event on the device's group (matching.single), so an
alert is recorded only when the indicator exists, applies to the device and matches the event.
Batches of one device are handled one at a time (a retry racing its original waits for it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pyarrow as pa

from iocd.clock import Clock
from iocd.domain.agents import AgentDevice
from iocd.domain.alerts import AGENT_SOURCE, Detection
from iocd.domain.telemetry import TelemetryEvent
from iocd.matching.index import build
from iocd.matching.single import decide_event
from iocd.services.agents import device_principal
from iocd.services.alerts import AlertService
from iocd.services.detection import DetectionService, matched_entity
from iocd.services.index_keeper import listed
from iocd.services.ports import Store

__all__ = ["AgentAlert", "ReportResult", "ReportService"]


@dataclass(frozen=True, slots=True)
class AgentAlert:
    """One alert an agent raised: the indicator that decided and the event it decided on."""

    indicator_id: int
    event: TelemetryEvent


@dataclass(frozen=True, slots=True)
class ReportResult:
    duplicate: bool
    events: int = 0
    alerts: int = 0
    rejected: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.events + self.alerts


class ReportService:
    def __init__(
        self, store: Store, clock: Clock, alerts: AlertService, detection: DetectionService
    ) -> None:
        self._store = store
        self._clock = clock
        self._alerts = alerts
        self._detection = detection
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock(self, device_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(device_id, threading.Lock())

    def deliver(
        self,
        device: AgentDevice,
        batch_id: str,
        events: Callable[[], Iterable[pa.RecordBatch]],
        alerts: Sequence[AgentAlert],
    ) -> ReportResult:
        """Store one report batch unless this device delivered it before. `events` is called
        only for a new batch (it parses the body's events)."""
        with self._lock(device.device_id):
            with self._store.agents(readonly=True) as tx:
                if tx.report_seen(device.device_id, batch_id):
                    return ReportResult(duplicate=True)
            stored = self._detection.ingest(events(), device_principal(device))
            detections, rejected = self._detections(device, alerts)
            raised = self._alerts.raise_alerts(detections) if detections else None
            with self._store.agents() as tx:
                tx.add_report(device.device_id, batch_id, self._clock.now())
        count = len(detections) if raised is not None else 0
        return ReportResult(False, stored, count, rejected)

    def purge(self, keep: timedelta) -> int:
        """Forget delivered batch ids older than `keep` (the telemetry retention): an agent
        retries a batch within minutes or hours, and the table must not grow for ever."""
        with self._store.agents() as tx:
            return tx.purge_reports(self._clock.now() - keep)

    def _detections(
        self, device: AgentDevice, alerts: Sequence[AgentAlert]
    ) -> tuple[list[Detection], list[str]]:
        detections: list[Detection] = []
        rejected: list[str] = []
        if not alerts:
            return detections, rejected
        with self._store.transaction(readonly=True) as tx:
            indicators = {a.indicator_id: tx.get(a.indicator_id) for a in alerts}
        for n, alert in enumerate(alerts):
            indicator = indicators.get(alert.indicator_id)
            if indicator is None:
                rejected.append(f"alerts[{n}]: indicator {alert.indicator_id} does not exist")
                continue
            entry = listed(indicator)
            event = replace(
                alert.event,
                device_id=device.device_id,
                device_name=device.hostname,
                device_group=device.group,
                source="agent",
            )
            decided = [
                d
                for d in decide_event(build([entry], indicator.sequence), event)
                if d.decision.winner is not None or d.decision.alerts
            ]
            if not decided:
                rejected.append(
                    f"alerts[{n}]: indicator {alert.indicator_id} does not match the event on "
                    f"a device of group {device.group}"
                )
                continue
            entity_type, entity = matched_entity(entry, event)
            detections.append(
                Detection(
                    indicator.id,
                    event,
                    entity_type,
                    entity,
                    decided[0].decision,
                    detection_source=AGENT_SOURCE,
                )
            )
        return detections, rejected
