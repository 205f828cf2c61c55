"""FeedStore over SQL (SQLite or PostgreSQL): the same behaviour as store.memory_feeds.

Each method is one short transaction of its own on the engine (feeds are few; a run's
indicator writes go through the indicator store, not through here). The claim is one
conditional UPDATE, so two processes sharing the database never run one feed at once.
"""

from __future__ import annotations

import builtins
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from iocd.domain.feed_wire import (
    defaults_from_wire,
    defaults_to_wire,
    options_from_wire,
    options_to_wire,
    skip_reasons_from_wire,
    state_from_wire,
    state_to_wire,
)
from iocd.domain.feeds import Feed, FeedRun, FeedState, RunOutcome, parse_kind
from iocd.errors import Conflict
from iocd.store.engine import BEGIN_OPTION
from iocd.store.tables import feed_runs, feeds

_f = feeds.c
_r = feed_runs.c


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _feed(row: Row[Any]) -> Feed:
    return Feed(
        id=row.id,
        name=row.name,
        kind=parse_kind(row.kind),
        url=row.url,
        options=options_from_wire(json.loads(row.options)),
        defaults=defaults_from_wire(json.loads(row.defaults)),
        cap=row.cap,
        interval_seconds=row.interval_seconds,
        enabled=bool(row.enabled),
        created_at=row.created_at,
        created_by=row.created_by,
        state=state_from_wire(json.loads(row.state)),
        last_attempt_at=row.last_attempt_at,
        running_since=row.claimed_at if row.claimed_by is not None else None,
    )


def _run(row: Row[Any]) -> FeedRun:
    return FeedRun(
        id=row.id,
        feed_id=row.feed_id,
        feed_name=row.feed_name,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=RunOutcome(row.outcome),
        fetched=row.fetched,
        added=row.added,
        updated=row.updated,
        withdrawn=row.withdrawn,
        unchanged=row.unchanged,
        skipped=row.skipped,
        skip_reasons=skip_reasons_from_wire(json.loads(row.skip_reasons)),
        error=row.error,
        full=bool(row.full_pass),
    )


class SqlFeedStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reads = engine.execution_options(**{BEGIN_OPTION: "BEGIN"})

    def create_feed(self, feed: Feed) -> Feed:
        values = {
            "name": feed.name,
            "kind": feed.kind.value,
            "url": feed.url,
            "options": _dumps(options_to_wire(feed.options)),
            "defaults": _dumps(defaults_to_wire(feed.defaults)),
            "cap": feed.cap,
            "interval_seconds": feed.interval_seconds,
            "enabled": feed.enabled,
            "created_at": feed.created_at,
            "created_by": feed.created_by,
            "state": _dumps(state_to_wire(feed.state)),
        }
        try:
            with self._engine.begin() as conn:
                new_id = conn.execute(insert(feeds).values(**values).returning(_f.id)).scalar_one()
        except IntegrityError:
            raise Conflict(f"a feed named {feed.name!r} exists") from None
        created = self.get_feed(feed.name)
        assert created is not None and created.id == new_id
        return created

    def get_feed(self, name: str) -> Feed | None:
        with self._reads.begin() as conn:
            row = conn.execute(select(feeds).where(_f.name == name)).first()
        return _feed(row) if row is not None else None

    def list_feeds(self) -> builtins.list[Feed]:
        with self._reads.begin() as conn:
            rows = conn.execute(select(feeds).order_by(_f.name)).all()
        return [_feed(row) for row in rows]

    def set_enabled(self, feed_id: int, enabled: bool) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(feeds).where(_f.id == feed_id).values(enabled=enabled))

    def save_state(self, feed_id: int, state: FeedState) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(feeds).where(_f.id == feed_id).values(state=_dumps(state_to_wire(state)))
            )

    def delete_feed(self, feed_id: int) -> bool:
        with self._engine.begin() as conn:
            conn.execute(delete(feed_runs).where(_r.feed_id == feed_id))
            return conn.execute(delete(feeds).where(_f.id == feed_id)).rowcount > 0

    def claim(self, feed_id: int, token: str, now: datetime, stale_before: datetime) -> bool:
        free = or_(_f.claimed_by.is_(None), _f.claimed_by == token, _f.claimed_at < stale_before)
        stmt = (
            update(feeds)
            .where(and_(_f.id == feed_id, free))
            .values(claimed_by=token, claimed_at=now, last_attempt_at=now)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def release(self, feed_id: int, token: str) -> None:
        stmt = (
            update(feeds)
            .where(_f.id == feed_id, _f.claimed_by == token)
            .values(claimed_by=None, claimed_at=None)
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def add_run(self, run: FeedRun) -> FeedRun:
        values = {
            "feed_id": run.feed_id,
            "feed_name": run.feed_name,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "outcome": run.outcome.value,
            "full_pass": run.full,
            "fetched": run.fetched,
            "added": run.added,
            "updated": run.updated,
            "withdrawn": run.withdrawn,
            "unchanged": run.unchanged,
            "skipped": run.skipped,
            "skip_reasons": _dumps([{"item": i, "reason": r} for i, r in run.skip_reasons]),
            "error": run.error,
        }
        with self._engine.begin() as conn:
            new_id = conn.execute(insert(feed_runs).values(**values).returning(_r.id)).scalar_one()
        return FeedRun(**{**_fields(run), "id": int(new_id)})

    def runs(self, feed_id: int, limit: int) -> builtins.list[FeedRun]:
        stmt = select(feed_runs).where(_r.feed_id == feed_id).order_by(_r.id.desc()).limit(limit)
        with self._reads.begin() as conn:
            return [_run(row) for row in conn.execute(stmt).all()]

    def last_runs(self) -> dict[int, FeedRun]:
        newest = select(func.max(_r.id)).group_by(_r.feed_id).scalar_subquery()
        with self._reads.begin() as conn:
            rows = conn.execute(select(feed_runs).where(_r.id.in_(newest))).all()
        return {row.feed_id: _run(row) for row in rows}


def _fields(run: FeedRun) -> dict[str, Any]:
    return {name: getattr(run, name) for name in FeedRun.__dataclass_fields__}
