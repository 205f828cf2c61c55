"""CLI filter options -> a query tree (domain.query), shared by `list` and `export`."""

from __future__ import annotations

from iocd.domain.query import (
    And,
    AnyEq,
    Compare,
    Expr,
    IndicatorQuery,
    Op,
    Or,
    StringFunction,
    Text,
)
from iocd.domain.types import parse_action, parse_indicator_type, parse_severity
from iocd.domain.values import detect_type, normalise


def build_query(
    *,
    indicator_type: str | None = None,
    action: str | None = None,
    severity: str | None = None,
    created_by: str | None = None,
    group: str | None = None,
    value: str | None = None,
    search: str | None = None,
    include_inactive: bool = False,
    top: int = 100,
    skip: int = 0,
) -> IndicatorQuery:
    terms: list[Expr] = []
    if indicator_type:
        terms.append(Compare("indicatorType", Op.EQ, parse_indicator_type(indicator_type).value))
    if action:
        terms.append(Compare("action", Op.EQ, parse_action(action).value))
    if severity:
        terms.append(Compare("severity", Op.EQ, parse_severity(severity).value))
    if created_by:
        terms.append(Compare("createdBy", Op.EQ, created_by))
    if group:
        terms.append(AnyEq("rbacGroupNames", group))
    if value:
        kind = parse_indicator_type(indicator_type) if indicator_type else detect_type(value)
        terms.append(Compare("indicatorValue", Op.EQ, normalise(kind, value)))
    if search:
        terms.append(
            Or(
                (
                    Text(StringFunction.CONTAINS, "indicatorValue", search),
                    Text(StringFunction.CONTAINS, "title", search),
                )
            )
        )
    where: Expr | None = None
    if len(terms) == 1:
        where = terms[0]
    elif terms:
        where = And(tuple(terms))
    return IndicatorQuery(where=where, top=top, skip=skip, include_inactive=include_inactive)
