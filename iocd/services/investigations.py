"""Automated investigation (SPEC section 5): the list has the last word on every verdict.

Every alert, whoever raised it (the detection engine, an agent, an external scanner through
`POST /api/verdicts`), opens one investigation. It gathers the alert's entities, decides them
with the list as it stands (the detection keeper's compiled index, single-event matcher and
section 4 precedence on the alert's device group), and then:

- Allowed wins: the alert is resolved as allowed by indicator (a comment names the indicator);
- Block or BlockAndRemediate wins for a file: the file is bad; every device where it was seen
  (stored telemetry of the look-back window, and alerts on that file) that runs an agent gets a
  remediation task, which the agent fetches, carries out (quarantine) and reports on; the
  investigation completes when every task is finished;
- anything else: the list has nothing to add, and the investigation completes saying so.

Each step is recorded on the investigation. The engine may raise thousands of alerts in one
pass, so `run_pending` investigates in batches from the background loop of `iocd serve` (how
far it got, an alert id, is kept in the store); external verdicts are investigated at once.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from iocd.clock import Clock
from iocd.domain.alerts import Alert, AlertQuery
from iocd.domain.decision import Decision, Enforcement
from iocd.domain.investigations import (
    HASH_KINDS,
    Entity,
    Investigation,
    InvestigationStatus,
    Outcome,
    RemediationTask,
    VerdictSource,
    entities_of,
    event_of,
    source_of,
)
from iocd.domain.principal import Principal, Role
from iocd.domain.verdicts import ExternalVerdict, verdict_alert
from iocd.errors import Forbidden, InvalidInput, NotFound
from iocd.matching import single
from iocd.services.alerts import AlertService
from iocd.services.detection import DetectionService
from iocd.services.investigation_steps import (
    close_as_allowed,
    describe,
    enrolled,
    plan_tasks,
    seen_on,
)
from iocd.services.ports import Store
from iocd.services.telemetry_port import TelemetryStore

__all__ = ["SYSTEM", "InvestigationPage", "InvestigationService"]

SYSTEM = Principal(
    "automated-investigation", Role.GLOBAL_ADMINISTRATOR, "Investigation", display_name="AIR"
)
"""Who acts when an investigation closes an alert (recorded in the alert's audit)."""
BATCH = 500
_BAD = (Enforcement.BLOCK, Enforcement.BLOCK_AND_REMEDIATE)
_SUBMITTERS = frozenset({Role.GLOBAL_ADMINISTRATOR, Role.SECURITY_ADMINISTRATOR})
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class InvestigationPage:
    items: list[Investigation]
    total: int


@dataclass(frozen=True, slots=True)
class _Plan:
    alert: Alert
    entities: tuple[Entity, ...]
    decision: Decision | None


class InvestigationService:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        alerts: AlertService,
        detection: DetectionService,
        telemetry: TelemetryStore,
        lookback: timedelta = timedelta(days=30),
    ) -> None:
        self._store = store
        self._clock = clock
        self._alerts = alerts
        self._detection = detection
        self._telemetry = telemetry
        self._lookback = lookback
        self._lock = threading.Lock()

    # -- external verdicts -------------------------------------------------------------------

    def submit_verdict(self, principal: Principal, verdict: ExternalVerdict) -> Investigation:
        """Raise the alert of another scanner's verdict and investigate it at once. Needs an
        administrator or an organisation-wide (Ti.ReadWrite.All) application."""
        if principal.own_only or principal.role not in _SUBMITTERS:
            raise Forbidden(
                f"{principal.label} may not post verdicts (administrators and Ti.ReadWrite.All "
                "applications may)"
            )
        group = self._group_of(verdict.device_id, verdict.device_name)
        alert, _ = self._alerts.raise_alert(verdict_alert(verdict, group, self._clock.now()))
        return self.investigate(alert)

    def _group_of(self, device_id: str, device_name: str) -> str:
        with self._store.agents(readonly=True) as tx:
            agent = tx.get_agent(device_id)
        if agent is not None:
            return agent.group
        known = self._alerts.device(device_id)
        if known is not None and known.group:
            return known.group
        return self._detection.devices.group_of(device_name or device_id)

    # -- reads --------------------------------------------------------------------------------

    def list(
        self, principal: Principal, status: str | None = None, top: int = 100, skip: int = 0
    ) -> InvestigationPage:
        """Newest first; analysts see the investigations of their device groups only."""
        if status is not None and status not in {s.value for s in InvestigationStatus}:
            raise InvalidInput("status", "must be Running, Completed or Failed")
        if not 0 <= top <= MAX_PAGE or skip < 0:
            raise InvalidInput("$top", f"must be between 0 and {MAX_PAGE}")
        groups = _groups(principal)
        with self._store.investigations(readonly=True) as tx:
            items = tx.list_investigations(status, groups, top, skip)
            total = tx.count_investigations(status, groups)
        return InvestigationPage(items, total)

    def get(
        self, principal: Principal, investigation_id: int
    ) -> tuple[Investigation, builtins.list[RemediationTask]]:
        """One investigation with its remediation tasks; outside the caller's scope: 403."""
        with self._store.investigations(readonly=True) as tx:
            item = tx.get_investigation(investigation_id)
            tasks = tx.tasks_of(investigation_id) if item is not None else []
        if item is None:
            raise NotFound(f"investigation {investigation_id} not found")
        groups = _groups(principal)
        if groups is not None and item.rbac_group_name not in groups:
            raise Forbidden(
                f"investigation {investigation_id} is outside the scope of {principal.label}"
            )
        return item, tasks

    def for_alert(self, principal: Principal, alert_id: int) -> Investigation | None:
        self._alerts.get(principal, alert_id)  # scope check (403 and audit outside it)
        with self._store.investigations(readonly=True) as tx:
            return tx.investigation_for_alert(alert_id)

    # -- investigating ----------------------------------------------------------------------

    def investigate(self, alert: Alert) -> Investigation:
        """The alert's investigation, run now unless it exists already."""
        with self._store.investigations(readonly=True) as tx:
            known = tx.investigation_for_alert(alert.id)
        if known is not None:
            return known
        return self._run([alert])[0]

    def run_pending(self, limit: int = BATCH) -> int:
        """Investigate the alerts raised since the last pass (at most `limit`); answers how many
        alerts it went past (0: nothing new)."""
        with self._store.investigations(readonly=True) as tx:
            through = tx.investigated_through()
        page = self._alerts.list(SYSTEM, AlertQuery(top=limit, after_id=through)).items
        if not page:
            return 0
        fresh = []
        with self._store.investigations(readonly=True) as tx:
            fresh = [a for a in page if tx.investigation_for_alert(a.id) is None]
        if fresh:
            self._run(fresh)
        with self._store.investigations() as tx:
            tx.set_investigated_through(max(through, page[-1].id))
        return len(page)

    def _run(self, alerts: Sequence[Alert]) -> builtins.list[Investigation]:
        with self._lock:  # one pass at a time: an alert never gets two investigations
            self._detection.keeper.refresh()
            index = self._detection.keeper.current
            plans = []
            for alert in alerts:
                entities = entities_of(alert)
                decided = single.decide_event(index, event_of(alert, entities))
                plans.append(_Plan(alert, entities, decided[0].decision if decided else None))
            wanted = {
                (e.kind, e.value)
                for p in plans
                if p.decision is not None and p.decision.enforcement in _BAD
                for e in p.entities
                if e.kind in HASH_KINDS
            }
            devices = seen_on(self._store, self._telemetry, wanted, self._since()) if wanted else {}
            for plan in plans:  # the alert's own device saw its entities
                for e in plan.entities:
                    if (e.kind, e.value) in devices:
                        found = devices[(e.kind, e.value)]
                        found.setdefault(plan.alert.machine_id, plan.alert.computer_dns_name)
            agents = enrolled(self._store, {d for found in devices.values() for d in found})
            return [self._conclude(plan, devices, agents) for plan in plans]

    def _since(self) -> datetime:
        return self._clock.now() - self._lookback

    def _conclude(
        self, plan: _Plan, devices: dict[tuple[str, str], dict[str, str]], agents: set[str]
    ) -> Investigation:
        now = self._clock.now()
        alert, decision = plan.alert, plan.decision
        source = source_of(alert)
        winner = decision.winner if decision is not None else None
        with self._store.investigations() as tx:
            existing = tx.investigation_for_alert(alert.id)
            if existing is not None:
                return existing
            item = Investigation(
                id=tx.allocate_investigation_ids(1),
                alert_id=alert.id,
                status=InvestigationStatus.RUNNING,
                outcome=Outcome.PENDING,
                source=source,
                detector=_detector(alert, source),
                device_id=alert.machine_id,
                rbac_group_name=alert.rbac_group_name,
                created_at=now,
                updated_at=now,
                entities=plan.entities,
                indicator_id=winner.indicator.id if winner is not None else None,
            )
            item = item.step(
                now, "opened", f"{source.value} verdict: alert {alert.id}: {alert.title}"
            )
            listed = ", ".join(f"{e.kind} {e.value}" for e in plan.entities) or "none"
            item = item.step(now, "entities gathered", listed)
            item = item.step(now, "list applied", describe(decision))
            tasks: list[RemediationTask] = []
            if decision is None or decision.enforcement not in (*_BAD, Enforcement.ALLOW):
                item = _complete(item, now, Outcome.NO_LIST_VERDICT, "the verdict stands")
            elif decision.enforcement is Enforcement.ALLOW:
                item = _complete(item, now, Outcome.ALLOWED_BY_INDICATOR, "the alert is closed")
            else:
                item, tasks = plan_tasks(tx, item, devices, agents, now)
            tx.put_investigation(item)
            tx.put_tasks(tasks)
        if item.outcome is Outcome.ALLOWED_BY_INDICATOR and winner is not None:
            close_as_allowed(self._alerts, SYSTEM, alert, winner.indicator, item.id)
        return item


def _groups(principal: Principal) -> frozenset[str] | None:
    """The device groups whose investigations the principal sees (None: all). An application
    holding only Ti.ReadWrite sees none (investigations are not tied to an indicator's owner)."""
    if principal.own_only:
        return frozenset()
    if principal.role is Role.ANALYST:
        return principal.device_groups
    return None


def _complete(item: Investigation, now: datetime, outcome: Outcome, detail: str) -> Investigation:
    done = replace(item, status=InvestigationStatus.COMPLETED, outcome=outcome)
    return done.step(now, f"outcome: {outcome.value}", detail)


def _detector(alert: Alert, source: VerdictSource) -> str:
    if source is VerdictSource.EXTERNAL:
        return alert.indicator_created_by.removeprefix("detector:")
    if source is VerdictSource.AGENT:
        return f"iocd agent on {alert.computer_dns_name}"
    return "iocd detection engine"
