"""The SQL of the version feed (domain.versions): `changes` joined to the indicator it names,
kept where the indicator still carries that change's sequence value (its latest change).

The plan walks `changes` by its primary key from the keyset on, probes `indicators` by id for
each change, and stops at the limit: a page costs what it returns plus the changes it skips
(superseded ones, and those the filter or the caller's sight leave out), never a sort or a
scan of the whole list. A filter on ids (`id eq`, `id in`) lets the planner start from
`indicators` instead, which it does on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, or_, select

from iocd.domain.history import Change, ChangeKind
from iocd.domain.versions import Version, VersionQuery
from iocd.store import mapping
from iocd.store.filters import Compiler
from iocd.store.tables import changes, indicators

_WIDTH = len(mapping.INDICATOR_SELECT)


def select_versions(compiler: Compiler, query: VersionQuery) -> Select[Any]:
    c, i = changes.c, indicators.c
    latest = changes.join(indicators, and_(i.id == c.indicator_id, i.sequence == c.sequence))
    terms = [c.sequence > query.after_sequence]
    if query.changed_after is not None:
        recent = c.at > query.changed_after
        if query.expired_after is not None:
            late_expiry = and_(c.kind == ChangeKind.EXPIRED.value, c.at > query.expired_after)
            recent = or_(recent, late_expiry)
        terms.append(recent)
    seen = compiler.sight(query.sight)
    if seen is not None:
        terms.append(seen)
    if query.where is not None:
        terms.append(compiler.expr(query.where))
    return (
        select(*mapping.INDICATOR_SELECT, c.kind, c.at)
        .select_from(latest)
        .where(*terms)
        .order_by(c.sequence)
        .limit(query.limit)
    )


def read_versions(conn: Connection, compiler: Compiler, query: VersionQuery) -> list[Version]:
    rows: Sequence[Any] = conn.execute(select_versions(compiler, query)).all()
    found = []
    for row in rows:
        indicator = mapping.indicator_from_row(row[:_WIDTH])
        kind, at = row[_WIDTH], row[_WIDTH + 1]
        change = Change(indicator.sequence, indicator.id, ChangeKind(kind), at)
        found.append(Version(indicator, change))
    return found
