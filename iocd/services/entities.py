"""Entity pages' use cases: what stored telemetry, the list and the alerts say of one file,
certificate, address (or CIDR block), domain, URL or device (issue 5, point 6).

An entity report holds the telemetry of the look-back window (default 30 days) summarised
columnar, the decision the list makes now with its trace, and the related alerts. The decision
shown first is the one for a device in "Ungrouped devices" (the organisation-wide view); every
device group whose decision differs is listed with its own (entities_decisions). Analysts see
the telemetry, decisions and alerts of their own device groups only; a device outside them is
refused (403) and audited.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pyarrow as pa

from iocd.clock import Clock
from iocd.domain.alerts import Alert, AlertQuery
from iocd.domain.decision import ListedIndicator
from iocd.domain.devices import Device
from iocd.domain.history import AuditEntry
from iocd.domain.principal import Principal, Role
from iocd.domain.query import Compare, Expr, In, Op, Or, StringFunction, Text
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.types import Action, IndicatorType
from iocd.errors import Forbidden, NotFound
from iocd.matching.columns import EVENT_SCHEMA
from iocd.services.alerts import AlertService
from iocd.services.detection import DetectionService
from iocd.services.entity_decisions import Verdict, decide_everywhere
from iocd.services.entity_summary import (
    TelemetrySummary,
    assign_groups,
    most_common,
    summarise,
    within_groups,
)
from iocd.services.ports import Store
from iocd.services.telemetry_port import TelemetryStore

__all__ = ["DeviceReport", "EntityReport", "EntityService"]

MAX_ROWS = 250_000
"""Rows of one entity read at most; past it the figures are lower bounds."""
DEVICE_EVENTS = 200
RELATED_ALERTS = 20

FACETS: dict[IndicatorType, dict[str, tuple[str, ...]]] = {
    IndicatorType.FILE_SHA256: {
        "hashes": ("sha256", "sha1", "md5"),
        "names": ("file_name", "file_path"),
        "signers": ("signer_thumbprint", "signature_valid", "signer_trusted"),
    },
    IndicatorType.CERTIFICATE_THUMBPRINT: {
        "files": ("sha256", "file_name"),
        "signers": ("signer_thumbprint", "signature_valid", "signer_trusted"),
    },
    IndicatorType.IP_ADDRESS: {
        "addresses": ("remote_ip",),
        "ports": ("remote_port",),
        "names": ("domain",),
    },
    IndicatorType.DOMAIN_NAME: {
        "names": ("domain",),
        "tls": ("sni",),
        "urls": ("url",),
        "addresses": ("remote_ip",),
    },
    IndicatorType.URL: {"urls": ("url",), "addresses": ("remote_ip",)},
}
FACETS[IndicatorType.FILE_SHA1] = FACETS[IndicatorType.FILE_SHA256]
FACETS[IndicatorType.FILE_MD5] = FACETS[IndicatorType.FILE_SHA256]
DEVICE_FACETS = {"kinds": ("kind",)}


@dataclass(frozen=True, slots=True)
class EntityReport:
    indicator_type: IndicatorType
    value: str
    telemetry: TelemetrySummary
    verdict: Verdict
    alerts: list[Alert] = field(default_factory=list)
    more_alerts: bool = False


@dataclass(frozen=True, slots=True)
class DeviceReport:
    device: Device
    group: str
    telemetry: TelemetrySummary
    alerts: list[Alert] = field(default_factory=list)
    more_alerts: bool = False


class EntityService:
    def __init__(
        self,
        *,
        store: Store,
        telemetry: TelemetryStore,
        detection: DetectionService,
        alerts: AlertService,
        clock: Clock,
        window: timedelta = timedelta(days=30),
        max_rows: int = MAX_ROWS,
    ) -> None:
        self._store = store
        self._telemetry = telemetry
        self._detection = detection
        self._alerts = alerts
        self._clock = clock
        self.window = window
        self._max_rows = max_rows

    def entity(self, kind: IndicatorType, value: str, principal: Principal) -> EntityReport:
        """The report of a canonical value of this type (an IP page also takes a CIDR)."""
        since = self._clock.now() - self.window
        probe = ListedIndicator(0, kind, value, Action.BLOCK)
        parts: list[pa.RecordBatch] = []
        rows, truncated = 0, False
        for batch in self._telemetry.hunt([probe], since):
            parts.append(batch)
            rows += batch.num_rows
            if rows >= self._max_rows:
                truncated = True
                break
        table = self._visible(_table(parts), principal)
        summary = self._with_groups(summarise(table, since, FACETS[kind], truncated=truncated))
        event = _probe_event(kind, value, summary)
        verdict = decide_everywhere(self._detection, event, principal, kind, value)
        alerts, more = self._related_alerts(_alert_filter(kind, value, summary), principal)
        return EntityReport(kind, value, summary, verdict, alerts, more)

    def device(self, device_id: str, principal: Principal) -> DeviceReport:
        since = self._clock.now() - self.window
        known = self._alerts.device(device_id)
        table = self._telemetry.device_events(device_id, since, DEVICE_EVENTS)
        if known is None and table.num_rows == 0:
            raise NotFound(f"device {device_id} has sent no telemetry")
        name = (known.name if known else None) or _first_name(table) or device_id
        group = self._detection.devices.group_of(name)
        if principal.role is Role.ANALYST and group not in principal.device_groups:
            self._deny(principal, device_id, group)
        table = assign_groups(table, self._detection.devices.group_of)
        summary = summarise(table, since, DEVICE_FACETS, recent=DEVICE_EVENTS)
        if known is None:
            assert summary.first_seen is not None and summary.last_seen is not None
            known = Device(device_id, summary.first_seen, summary.last_seen, name, group)
        alerts, more = self._related_alerts(Compare("machineId", Op.EQ, device_id), principal)
        return DeviceReport(known, group, summary, alerts, more)

    def _visible(self, table: pa.Table, principal: Principal) -> pa.Table:
        """Analysts: only the rows of their groups' devices (each device's group is computed);
        others: every row (groups are computed for the devices shown only)."""
        if principal.role is Role.ANALYST:
            table = assign_groups(table, self._detection.devices.group_of)
            return within_groups(table, principal.device_groups)
        return table

    def _with_groups(self, summary: TelemetrySummary) -> TelemetrySummary:
        group_of = self._detection.devices.group_of
        devices = [replace(d, group=group_of(d.name or d.device_id)) for d in summary.devices]
        recent = [
            replace(e, device_group=group_of(e.device_name or e.device_id)) for e in summary.recent
        ]
        return replace(summary, devices=devices, recent=recent)

    def _related_alerts(self, where: Expr | None, principal: Principal) -> tuple[list[Alert], bool]:
        if where is None:
            return [], False
        query = AlertQuery(where=where, order_by=(("lastEventTime", True),), top=RELATED_ALERTS)
        page = self._alerts.list(principal, query)
        return page.items, page.has_more

    def _deny(self, principal: Principal, device_id: str, group: str) -> None:
        error = Forbidden(f"device {device_id} is in group {group!r}, outside your device groups")
        entry = AuditEntry(
            self._clock.now(),
            principal.name,
            principal.door,
            "denied",
            None,
            {"deviceId": device_id, "reason": error.message},
        )
        with self._store.alerts() as tx:
            tx.append_audit([entry])
        raise error


def _table(parts: list[pa.RecordBatch]) -> pa.Table:
    if not parts:
        return EVENT_SCHEMA.empty_table()
    return pa.Table.from_batches(parts)


def _first_name(table: pa.Table) -> str | None:
    names = table.column("device_name").drop_null()
    return str(names[0].as_py()) if len(names) else None


def _probe_event(kind: IndicatorType, value: str, summary: TelemetrySummary) -> TelemetryEvent:
    """An event standing for the entity, as telemetry knows it: a file with its other hashes and
    its signer, a connection to the address (a block's first address), the name or the URL."""
    now = summary.last_seen or summary.since
    if kind.is_file_hash:
        hashes = summary.facets.get("hashes", [])
        signers = summary.facets.get("signers", [])
        sha256, sha1, md5 = (most_common(hashes, n) for n in range(3))
        return TelemetryEvent(
            time=now,
            kind=EventKind.FILE,
            device_id="",
            sha256=value if kind is IndicatorType.FILE_SHA256 else sha256,
            sha1=value if kind is IndicatorType.FILE_SHA1 else sha1,
            md5=value if kind is IndicatorType.FILE_MD5 else md5,
            signer_thumbprint=most_common(signers, 0),
            signature_valid=most_common(signers, 1) == "yes",
            signer_trusted=most_common(signers, 2) == "yes",
            source="portal",
        )
    if kind is IndicatorType.CERTIFICATE_THUMBPRINT:
        return TelemetryEvent(
            time=now, kind=EventKind.FILE, device_id="", signer_thumbprint=value, source="portal"
        )
    if kind is IndicatorType.IP_ADDRESS:
        first = ipaddress.ip_network(value, strict=False).network_address
        return TelemetryEvent(
            time=now, kind=EventKind.NETWORK, device_id="", remote_ip=str(first), source="portal"
        )
    if kind is IndicatorType.DOMAIN_NAME:
        return TelemetryEvent(
            time=now, kind=EventKind.DNS, device_id="", domain=value, source="portal"
        )
    return TelemetryEvent(time=now, kind=EventKind.HTTP, device_id="", url=value, source="portal")


def _alert_filter(kind: IndicatorType, value: str, summary: TelemetrySummary) -> Expr | None:
    """Alerts about the entity: those whose matched entity is the value (a file: any of its
    hashes; a domain: also its subdomains; a URL: also the URLs under it)."""
    if kind.is_file_hash:
        hashes = {value}
        for row in summary.facets.get("hashes", []):
            hashes.update(v for v in row.values if v)
        return In("entity", tuple(sorted(hashes))[:500])
    if kind is IndicatorType.CERTIFICATE_THUMBPRINT:
        files = {row.values[0] for row in summary.facets.get("files", []) if row.values[0]}
        return In("entity", tuple(sorted(files))) if files else None
    if kind is IndicatorType.IP_ADDRESS and "/" in value:
        return None
    if kind is IndicatorType.DOMAIN_NAME:
        return Or(
            (
                Compare("entity", Op.EQ, value),
                Text(StringFunction.ENDSWITH, "entity", "." + value),
            )
        )
    if kind is IndicatorType.URL:
        return Text(StringFunction.STARTSWITH, "entity", value)
    return Compare("entity", Op.EQ, value)
