"""Remediation tasks as agents see them: fetch the device's open tasks, report each result.

A task moves Pending -> Delivered (fetched by its device) -> Done or Failed (reported). Each
move is recorded as a step of its investigation, which completes once all its tasks are
finished (domain.investigations.settle). Reporting a finished task again changes nothing.
"""

from __future__ import annotations

from dataclasses import replace

from iocd.clock import Clock
from iocd.domain.agents import AgentDevice
from iocd.domain.investigations import RemediationTask, TaskResult, TaskStatus, settle
from iocd.errors import NotFound
from iocd.services.ports import InvestigationsTransaction, Store

__all__ = ["RemediationService"]

OPEN = (TaskStatus.PENDING, TaskStatus.DELIVERED)


class RemediationService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def tasks_for(self, device: AgentDevice, limit: int = 100) -> list[RemediationTask]:
        """The device's open tasks (Pending ones become Delivered)."""
        with self._store.investigations(readonly=True) as tx:
            found = tx.tasks_for_device(device.device_id, OPEN, limit)
        if not any(t.status is TaskStatus.PENDING for t in found):
            return found
        now = self._clock.now()
        with self._store.investigations() as tx:
            found = tx.tasks_for_device(device.device_id, OPEN, limit)
            delivered = [
                replace(t, status=TaskStatus.DELIVERED, updated_at=now)
                for t in found
                if t.status is TaskStatus.PENDING
            ]
            tx.put_tasks(delivered)
            for task in delivered:
                _record(tx, task, "task delivered", f"task {task.id} to {device.hostname}")
            moved = {t.id: t for t in delivered}
            return [moved.get(t.id, t) for t in found]

    def report(self, device: AgentDevice, task_id: int, result: TaskResult) -> RemediationTask:
        """Record what the agent did; a task of another device is not found."""
        now = self._clock.now()
        with self._store.investigations() as tx:
            task = tx.get_task(task_id)
            if task is None or task.device_id != device.device_id:
                raise NotFound(f"task {task_id} not found")
            if task.finished:
                return task
            done = replace(
                task,
                status=result.status,
                result=result.message,
                quarantined=result.quarantined,
                updated_at=now,
            )
            tx.put_tasks([done])
            detail = f"task {task.id} on {device.hostname}: {result.message or 'no message'}"
            _record(tx, done, f"task {result.status.value.lower()}", detail)
            return done


def _record(tx: InvestigationsTransaction, task: RemediationTask, action: str, detail: str) -> None:
    item = tx.get_investigation(task.investigation_id)
    if item is None:
        return
    item = item.step(task.updated_at, action, detail)
    tasks = [task if t.id == task.id else t for t in tx.tasks_of(item.id)]
    tx.put_investigation(settle(item, tasks, task.updated_at))
