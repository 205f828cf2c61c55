"""Imports whose commits run behind the next chunk's reading (`import_rows(commit_behind=True)`,
what `iocd indicators import` does) store and report exactly what chunk-by-chunk imports do,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine

from iocd.clock import FixedClock
from iocd.domain.indicator import IndicatorFields
from iocd.domain.principal import Principal, Role
from iocd.domain.query import IndicatorQuery
from iocd.domain.types import Action, IndicatorType
from iocd.services.imports import ImportReport, ParsedRow, import_rows
from iocd.services.indicators import IndicatorService
from iocd.services.ports import Store
from iocd.store.memory import MemoryStore
from iocd.store.sql import SqlStore, SqlTransaction
from tests.factories import T0, make_fields

ADMIN = Principal("alice", Role.GLOBAL_ADMINISTRATOR, "Import")


def refuse_loopback(fields: IndicatorFields) -> str | None:
    return "loopback" if fields.action.blocks and fields.value.startswith("127.") else None


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    chosen: Engine = request.getfixturevalue(f"{request.param}_engine")
    return chosen


def rows() -> list[ParsedRow]:
    """Valid rows, parse failures, guardrail refusals, and identities repeated across chunks."""
    out: list[ParsedRow] = []
    for n in range(1, 41):
        line = n + 1
        if n % 9 == 0:
            out.append((line, f"line {line}: not a valid row"))
        elif n % 11 == 0:
            out.append((line, make_fields(n, value=f"127.0.0.{n}")))
        elif n > 30:  # repeats of rows of the first chunks, some changed
            action = Action.AUDIT if n % 2 else Action.BLOCK
            out.append((line, replace(make_fields(n - 30), action=action)))
        else:
            out.append((line, make_fields(n, IndicatorType.FILE_SHA256)))
            out.append((line, make_fields(n)))
    return out


def run(store: Store, commit_behind: bool) -> tuple[ImportReport, list[int]]:
    service = IndicatorService(store, FixedClock(T0), refuse_loopback)
    seen: list[int] = []
    report = import_rows(
        service,
        rows(),
        ADMIN,
        chunk_size=7,
        on_chunk=lambda r: seen.append(r.rows),
        keep_items=1000,
        commit_behind=commit_behind,
    )
    return report, seen


def stored(store: Store) -> list[tuple[Any, ...]]:
    with store.transaction(readonly=True) as tx:
        listed = tx.list(IndicatorQuery(top=1000, include_inactive=True), T0)
        changes = tx.changes_since(0, 1000)
        audits = [(a.action, a.changes, a.sequence) for i in listed for a in tx.audit_for(i.id)]
        last = tx.last_sequence()
    assert [c.sequence for c in changes] == list(range(1, last + 1))  # gap-free
    return [
        *((i.id, i.fields, i.state, i.sequence) for i in listed),
        *((c.sequence, c.indicator_id, c.kind) for c in changes),
        *audits,
    ]


def test_same_results_and_state_as_chunk_by_chunk(engine: Engine) -> None:
    behind = SqlStore(engine)
    report, seen = run(behind, commit_behind=True)
    assert report.created > 0 and report.updated > 0 and report.unchanged > 0
    assert report.failed > 0

    plain = MemoryStore()  # chunk by chunk; the contract suite shows the stores agree
    expected, expected_seen = run(plain, commit_behind=False)
    assert report == expected
    assert seen == expected_seen
    assert stored(behind) == stored(plain)


def test_a_failed_commit_is_raised_and_its_chunk_not_reported(engine: Engine) -> None:
    store = SqlStore(engine)
    commits = 0
    real = store.transaction

    @contextmanager
    def failing_second_commit(readonly: bool = False) -> Iterator[SqlTransaction]:
        nonlocal commits
        with real(readonly) as tx:
            yield tx
            if not readonly:
                commits += 1
                if commits == 2:
                    raise OSError("disk full")

    store.transaction = failing_second_commit  # type: ignore[method-assign]
    service = IndicatorService(store, FixedClock(T0), refuse_loopback)
    seen: list[int] = []
    fields = [(n + 1, make_fields(n)) for n in range(1, 13)]
    with pytest.raises(OSError, match="disk full"):
        import_rows(
            service,
            fields,
            ADMIN,
            chunk_size=4,
            on_chunk=lambda r: seen.append(r.created),
            commit_behind=True,
        )
    assert seen == [4]
    store.transaction = real  # type: ignore[method-assign]
    with store.transaction(readonly=True) as tx:
        assert tx.active_count() == 4
        assert tx.last_sequence() == 4
