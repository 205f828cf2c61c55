"""Investigations in memory: the reference behaviour of InvestigationsTransaction (contract
suite)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field

from iocd.domain.investigations import Investigation, RemediationTask, TaskStatus


@dataclass
class InvestigationState:
    investigations: dict[int, Investigation] = field(default_factory=dict)
    by_alert: dict[int, int] = field(default_factory=dict)
    tasks: dict[int, RemediationTask] = field(default_factory=dict)
    next_investigation: int = 1
    next_task: int = 1
    through: int = 0

    def copy(self) -> InvestigationState:
        return InvestigationState(
            dict(self.investigations),
            dict(self.by_alert),
            dict(self.tasks),
            self.next_investigation,
            self.next_task,
            self.through,
        )


def _selected(
    items: Sequence[Investigation], status: str | None, groups: frozenset[str] | None
) -> list[Investigation]:
    return [
        i
        for i in items
        if (status is None or i.status.value == status)
        and (groups is None or i.rbac_group_name in groups)
    ]


class MemoryInvestigations:
    def __init__(self, state: InvestigationState) -> None:
        self._s = state

    def allocate_investigation_ids(self, count: int) -> int:
        first = self._s.next_investigation
        self._s.next_investigation += count
        return first

    def allocate_task_ids(self, count: int) -> int:
        first = self._s.next_task
        self._s.next_task += count
        return first

    def put_investigation(self, investigation: Investigation) -> None:
        known = self._s.by_alert.get(investigation.alert_id)
        if known is not None and known != investigation.id:
            raise ValueError(f"alert {investigation.alert_id} already has an investigation")
        self._s.investigations[investigation.id] = investigation
        self._s.by_alert[investigation.alert_id] = investigation.id

    def get_investigation(self, investigation_id: int) -> Investigation | None:
        return self._s.investigations.get(investigation_id)

    def investigation_for_alert(self, alert_id: int) -> Investigation | None:
        found = self._s.by_alert.get(alert_id)
        return None if found is None else self._s.investigations[found]

    def list_investigations(
        self, status: str | None, groups: frozenset[str] | None, top: int, skip: int
    ) -> builtins.list[Investigation]:
        newest = sorted(self._s.investigations.values(), key=lambda i: -i.id)
        return _selected(newest, status, groups)[skip : skip + top]

    def count_investigations(self, status: str | None, groups: frozenset[str] | None) -> int:
        return len(_selected(list(self._s.investigations.values()), status, groups))

    def put_tasks(self, tasks: Sequence[RemediationTask]) -> None:
        for task in tasks:
            self._s.tasks[task.id] = task

    def get_task(self, task_id: int) -> RemediationTask | None:
        return self._s.tasks.get(task_id)

    def tasks_of(self, investigation_id: int) -> builtins.list[RemediationTask]:
        return [
            self._s.tasks[k]
            for k in sorted(self._s.tasks)
            if self._s.tasks[k].investigation_id == investigation_id
        ]

    def tasks_for_device(
        self, device_id: str, statuses: Sequence[TaskStatus], limit: int
    ) -> builtins.list[RemediationTask]:
        wanted = set(statuses)
        found = [
            self._s.tasks[k]
            for k in sorted(self._s.tasks)
            if self._s.tasks[k].device_id == device_id and self._s.tasks[k].status in wanted
        ]
        return found[:limit]

    def investigated_through(self) -> int:
        return self._s.through

    def set_investigated_through(self, alert_id: int) -> None:
        self._s.through = alert_id
