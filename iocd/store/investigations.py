"""InvestigationsTransaction over SQL: the same behaviour as store.memory_investigations.

Works inside a transaction opened by `SqlStore.investigations()` (sql.py), which is
`SqlStore.transaction()` itself. Each row keeps the JSON text of the wire form in `body`, with
the columns that lists, scoping and the agents' task queries filter on beside it.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update

from iocd.domain.investigations import (
    Investigation,
    RemediationTask,
    TaskStatus,
    investigation_from_wire,
    investigation_to_wire,
    task_from_wire,
    task_to_wire,
)
from iocd.store.tables import counters, investigations, remediation_tasks

Bump = Callable[[str, int], int]
_i = investigations.c
_t = remediation_tasks.c


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _where(status: str | None, groups: frozenset[str] | None) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if status is not None:
        out.append(_i.status == status)
    if groups is not None:
        out.append(_i.rbac_group_name.in_(sorted(groups)))
    return out


class SqlInvestigations:
    def __init__(self, connection: Connection, bump: Bump) -> None:
        self._conn = connection
        self._bump = bump

    def allocate_investigation_ids(self, count: int) -> int:
        return self._bump("investigation_id", count) - count + 1

    def allocate_task_ids(self, count: int) -> int:
        return self._bump("remediation_task_id", count) - count + 1

    def put_investigation(self, investigation: Investigation) -> None:
        values = {
            "id": investigation.id,
            "alert_id": investigation.alert_id,
            "status": investigation.status.value,
            "rbac_group_name": investigation.rbac_group_name,
            "body": _dumps(investigation_to_wire(investigation)),
        }
        self._conn.execute(delete(investigations).where(_i.id == investigation.id))
        self._conn.execute(insert(investigations).values(**values))

    def _investigations(self, *where: Any) -> list[Investigation]:
        rows = self._conn.execute(select(_i.body).where(*where).order_by(_i.id.desc())).all()
        return [investigation_from_wire(json.loads(row.body)) for row in rows]

    def get_investigation(self, investigation_id: int) -> Investigation | None:
        found = self._investigations(_i.id == investigation_id)
        return found[0] if found else None

    def investigation_for_alert(self, alert_id: int) -> Investigation | None:
        found = self._investigations(_i.alert_id == alert_id)
        return found[0] if found else None

    def list_investigations(
        self, status: str | None, groups: frozenset[str] | None, top: int, skip: int
    ) -> builtins.list[Investigation]:
        stmt = (
            select(_i.body)
            .where(*_where(status, groups))
            .order_by(_i.id.desc())
            .limit(top)
            .offset(skip)
        )
        return [investigation_from_wire(json.loads(r.body)) for r in self._conn.execute(stmt)]

    def count_investigations(self, status: str | None, groups: frozenset[str] | None) -> int:
        stmt = select(func.count()).select_from(investigations).where(*_where(status, groups))
        return int(self._conn.execute(stmt).scalar_one())

    def put_tasks(self, tasks: Sequence[RemediationTask]) -> None:
        if not tasks:
            return
        self._conn.execute(delete(remediation_tasks).where(_t.id.in_([t.id for t in tasks])))
        self._conn.execute(
            insert(remediation_tasks),
            [
                {
                    "id": t.id,
                    "investigation_id": t.investigation_id,
                    "device_id": t.device_id,
                    "status": t.status.value,
                    "body": _dumps(task_to_wire(t)),
                }
                for t in tasks
            ],
        )

    def _tasks(self, *where: Any, limit: int | None = None) -> list[RemediationTask]:
        stmt = select(_t.body).where(*where).order_by(_t.id).limit(limit)
        return [task_from_wire(json.loads(row.body)) for row in self._conn.execute(stmt)]

    def get_task(self, task_id: int) -> RemediationTask | None:
        found = self._tasks(_t.id == task_id)
        return found[0] if found else None

    def tasks_of(self, investigation_id: int) -> builtins.list[RemediationTask]:
        return self._tasks(_t.investigation_id == investigation_id)

    def tasks_for_device(
        self, device_id: str, statuses: Sequence[TaskStatus], limit: int
    ) -> builtins.list[RemediationTask]:
        wanted = [s.value for s in statuses]
        return self._tasks(_t.device_id == device_id, _t.status.in_(wanted), limit=limit)

    def investigated_through(self) -> int:
        stmt = select(counters.c.value).where(counters.c.name == "investigated_alert")
        return int(self._conn.execute(stmt).scalar_one())

    def set_investigated_through(self, alert_id: int) -> None:
        stmt = (
            update(counters).where(counters.c.name == "investigated_alert").values(value=alert_id)
        )
        self._conn.execute(stmt)
