"""Investigations and remediation tasks behave the same on every store (memory, SQLite,
PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from iocd.domain.investigations import (
    Entity,
    Investigation,
    InvestigationStatus,
    Outcome,
    RemediationTask,
    TaskStatus,
    VerdictSource,
)
from iocd.services.ports import Store
from tests.factories import T0

H = timedelta(hours=1)


def make_investigation(item_id: int, alert_id: int, **overrides: object) -> Investigation:
    base = Investigation(
        id=item_id,
        alert_id=alert_id,
        status=InvestigationStatus.RUNNING,
        outcome=Outcome.PENDING,
        source=VerdictSource.EXTERNAL,
        detector="ScannerX",
        device_id="d1",
        rbac_group_name="Servers",
        created_at=T0,
        updated_at=T0,
        entities=(Entity("sha256", "ab" * 32), Entity("md5", "cd" * 16)),
        indicator_id=7,
    ).step(T0, "opened", "alert 1: ünïcode détail")
    return replace(base, **overrides)  # type: ignore[arg-type]


def make_task(task_id: int, device: str = "d1", **overrides: object) -> RemediationTask:
    base = RemediationTask(
        task_id, 1, device, f"host-{device}", "sha256", "ab" * 32, TaskStatus.PENDING, T0, T0, 7
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_ids_come_from_their_own_counters(store: Store) -> None:
    with store.investigations() as tx:
        assert tx.allocate_investigation_ids(2) == 1
        assert tx.allocate_investigation_ids(1) == 3
        assert tx.allocate_task_ids(5) == 1
        assert tx.allocate_task_ids(1) == 6


def test_investigations_round_trip_list_count_and_roll_back(store: Store) -> None:
    first = make_investigation(1, 10)
    second = make_investigation(2, 11, rbac_group_name="Laptops", indicator_id=None)
    with store.investigations() as tx:
        tx.put_investigation(first)
        tx.put_investigation(second)
    done = replace(first.step(T0 + H, "outcome", "x"), status=InvestigationStatus.COMPLETED)
    try:
        with store.investigations() as tx:
            tx.put_investigation(done)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with store.investigations(readonly=True) as tx:
        assert tx.get_investigation(1) == first
        assert tx.investigation_for_alert(11) == second
        assert tx.investigation_for_alert(12) is None
    with store.investigations() as tx:
        tx.put_investigation(done)
    with store.investigations(readonly=True) as tx:
        assert tx.get_investigation(1) == done
        assert [i.id for i in tx.list_investigations(None, None, 10, 0)] == [2, 1]
        assert [i.id for i in tx.list_investigations(None, None, 1, 1)] == [1]
        assert [i.id for i in tx.list_investigations("Completed", None, 10, 0)] == [1]
        assert [i.id for i in tx.list_investigations(None, frozenset({"Laptops"}), 10, 0)] == [2]
        assert tx.list_investigations(None, frozenset(), 10, 0) == []
        assert tx.count_investigations(None, None) == 2
        assert tx.count_investigations("Running", frozenset({"Laptops"})) == 1


def test_one_investigation_per_alert(store: Store) -> None:
    with store.investigations() as tx:
        tx.put_investigation(make_investigation(1, 10))
    with pytest.raises(Exception), store.investigations() as tx:  # noqa: B017, PT011
        tx.put_investigation(make_investigation(2, 10))
    with store.investigations(readonly=True) as tx:
        assert tx.get_investigation(2) is None


def test_tasks_by_investigation_and_device(store: Store) -> None:
    tasks = [make_task(1), make_task(2, "d2"), make_task(3, status=TaskStatus.DONE)]
    with store.investigations() as tx:
        tx.put_tasks(tasks)
    with store.investigations(readonly=True) as tx:
        assert tx.tasks_of(1) == tasks
        assert tx.tasks_of(2) == []
        open_ = (TaskStatus.PENDING, TaskStatus.DELIVERED)
        assert tx.tasks_for_device("d1", open_, 10) == [tasks[0]]
        assert tx.tasks_for_device("d1", [TaskStatus.DONE], 10) == [tasks[2]]
        assert tx.get_task(9) is None
    delivered = replace(tasks[0], status=TaskStatus.DELIVERED, result="ok", quarantined=2)
    with store.investigations() as tx:
        tx.put_tasks([delivered])
    with store.investigations(readonly=True) as tx:
        assert tx.get_task(1) == delivered
        assert tx.tasks_for_device("d1", (TaskStatus.PENDING,), 10) == []


def test_how_far_investigation_got(store: Store) -> None:
    with store.investigations(readonly=True) as tx:
        assert tx.investigated_through() == 0
    with store.investigations() as tx:
        tx.set_investigated_through(42)
    with store.investigations(readonly=True) as tx:
        assert tx.investigated_through() == 42
