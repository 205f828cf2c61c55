"""The steps of an investigation that reach outside it: where a file was seen, which devices run
an agent, the remediation tasks to queue, and closing an alert the list allows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from iocd.domain.alert_patch import AlertPatch
from iocd.domain.alerts import (
    Alert,
    AlertClassification,
    AlertDetermination,
    AlertQuery,
    AlertStatus,
)
from iocd.domain.decision import Decision, Enforcement, ListedIndicator
from iocd.domain.investigations import (
    HASH_KINDS,
    Investigation,
    InvestigationStatus,
    Outcome,
    RemediationTask,
    TaskStatus,
)
from iocd.domain.principal import Principal
from iocd.domain.query import In
from iocd.domain.types import Action, IndicatorType
from iocd.services.alerts import AlertService
from iocd.services.ports import InvestigationsTransaction, Store
from iocd.services.telemetry_port import TelemetryStore

HASH_TYPES = {
    "sha256": IndicatorType.FILE_SHA256,
    "sha1": IndicatorType.FILE_SHA1,
    "md5": IndicatorType.FILE_MD5,
}
OPEN_TASKS = (TaskStatus.PENDING, TaskStatus.DELIVERED)
Seen = dict[tuple[str, str], dict[str, str]]
"""(hash kind, value) -> {device id: device name}."""


def describe(decision: Decision | None) -> str:
    if decision is None or decision.winner is None:
        return "no indicator in the list matches these entities"
    w = decision.winner.indicator
    return (
        f"{decision.enforcement.value}: indicator {w.id} ({w.indicator_type.value} {w.value}, "
        f"{w.action.value}) wins ({decision.rule})"
    )


def seen_on(
    store: Store, telemetry: TelemetryStore, wanted: set[tuple[str, str]], since: datetime
) -> Seen:
    """The devices where each file hash was seen: stored telemetry since `since` (a hunt with a
    stand-in indicator per hash), and alerts on that hash."""
    out: Seen = {key: {} for key in wanted}
    stand_ins = [
        ListedIndicator(n + 1, HASH_TYPES[kind], value, Action.BLOCK)
        for n, (kind, value) in enumerate(sorted(wanted))
    ]
    for batch in telemetry.hunt(stand_ins, since):
        for kind in HASH_KINDS:
            values = [v for k, v in wanted if k == kind]
            if not values:
                continue
            column = batch.column(kind)
            value_set = pa.array([bytes.fromhex(v) for v in values], column.type)
            found = batch.filter(pc.is_in(column, value_set=value_set))
            rows = zip(
                found.column(kind).to_pylist(),
                found.column("device_id").to_pylist(),
                found.column("device_name").to_pylist(),
                strict=True,
            )
            for digest, device, name in rows:
                out[(kind, digest.hex())].setdefault(device, name or device)
    by_value = {value: key for key in wanted for value in [key[1]]}
    keys = tuple(sorted(by_value))
    with store.alerts(readonly=True) as tx:
        for start in range(0, len(keys), 500):
            chunk: tuple[str, ...] = keys[start : start + 500]
            for alert in tx.list(AlertQuery(where=In("entity", chunk), top=10_000)):
                out[by_value[alert.entity]].setdefault(alert.machine_id, alert.computer_dns_name)
    return out


def enrolled(store: Store, device_ids: set[str]) -> set[str]:
    """Those of the devices that run an enrolled agent."""
    with store.agents(readonly=True) as tx:
        return {d for d in device_ids if tx.get_agent(d) is not None}


def plan_tasks(
    tx: InvestigationsTransaction,
    item: Investigation,
    seen: Seen,
    agents: set[str],
    now: datetime,
) -> tuple[Investigation, list[RemediationTask]]:
    """Queue one task per device (with an agent) where a bad file of the investigation was seen,
    naming its strongest hash; a device with an open task for that file gets no second one."""
    hashes = [e for e in item.entities if e.kind in HASH_KINDS]
    if not hashes:
        done = replace(item, status=InvestigationStatus.COMPLETED, outcome=Outcome.BLOCKED)
        detail = "not a file: agents enforce the Block through their policy"
        return done.step(now, f"outcome: {Outcome.BLOCKED.value}", detail), []
    chosen: dict[str, tuple[str, str, str]] = {}
    for entity in sorted(hashes, key=lambda e: HASH_KINDS.index(e.kind)):
        for device, name in seen.get((entity.kind, entity.value), {}).items():
            chosen.setdefault(device, (entity.kind, entity.value, name))
    names = ", ".join(f"{name} ({device})" for device, (_, _, name) in sorted(chosen.items()))
    item = item.step(now, "devices found", f"seen on {len(chosen)} devices: {names or 'none'}")
    wanted: list[tuple[str, str, str, str]] = []
    for device, (kind, value, name) in sorted(chosen.items()):
        if device not in agents:
            item = item.step(now, "not remediable", f"{name} runs no agent")
            continue
        open_ = [t for t in tx.tasks_for_device(device, OPEN_TASKS, 1000) if t.value == value]
        if open_:
            detail = f"{name} already has task {open_[0].id} for {value}"
            item = item.step(now, "already queued", detail)
            continue
        wanted.append((device, name, kind, value))
    if not wanted:
        done = replace(item, status=InvestigationStatus.COMPLETED, outcome=Outcome.BLOCKED)
        detail = "the file is bad; no new remediation is needed"
        return done.step(now, f"outcome: {Outcome.BLOCKED.value}", detail), []
    first = tx.allocate_task_ids(len(wanted))
    tasks = [
        RemediationTask(
            first + n,
            item.id,
            device,
            name,
            kind,
            value,
            TaskStatus.PENDING,
            now,
            now,
            item.indicator_id,
        )
        for n, (device, name, kind, value) in enumerate(wanted)
    ]
    for task in tasks:
        item = item.step(
            now,
            "remediation queued",
            f"task {task.id}: quarantine {task.kind} {task.value} on {task.device_name}",
        )
    item = replace(item, outcome=Outcome.REMEDIATING)
    return item.step(now, f"outcome: {Outcome.REMEDIATING.value}", f"{len(tasks)} tasks"), tasks


def close_as_allowed(
    alerts: AlertService,
    actor: Principal,
    alert: Alert,
    indicator: ListedIndicator,
    investigation_id: int,
) -> None:
    """Resolve the alert as allowed by indicator, with a comment naming the indicator."""
    expected = alert.decision.enforcement is Enforcement.ALLOW
    patch = AlertPatch(
        status=AlertStatus.RESOLVED,
        classification=(
            AlertClassification.INFORMATIONAL_EXPECTED_ACTIVITY
            if expected
            else AlertClassification.FALSE_POSITIVE
        ),
        determination=AlertDetermination.NOT_MALICIOUS,
        comment=(
            f"Allowed by indicator {indicator.id} ({indicator.indicator_type.value} "
            f"{indicator.value}): closed by automated investigation {investigation_id}."
        ),
    )
    alerts.update(actor, alert.id, patch)
