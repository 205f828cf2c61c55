"""Compile domain queries (iocd.domain.query) to SQLAlchemy expressions over `indicators`.

The result must select exactly what `domain.query.matches`/`visible` and the in-memory store's
ordering select, on SQLite and PostgreSQL alike. Hence:

- Every leaf compiles to a two-valued predicate (never SQL NULL), so `Not` negates exactly as
  Python does: `x ne 'a'` holds for a NULL x; `x eq null` is `IS NULL`; ordering comparisons
  with a null on either side are false.
- A value whose type cannot equal the field's (a text for a datetime field, a naive datetime,
  ...) makes `eq`/`in` false and `ne` true, as Python comparison does; booleans are decided in
  Python over both possible column values.
- Text functions fold case on both sides (`fold`: Unicode casefold on SQLite, lower() on
  PostgreSQL); LIKE metacharacters in the needle are escaped. Values are always bound
  parameters, never SQL text.
- Text ordering and range comparisons use code-point order (COLLATE "C" on PostgreSQL; SQLite's
  default BINARY already is), as Python's str comparison does.
- Ordering: each order_by field, NULLs first ascending and last descending, then id ascending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    exists,
    false,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Integer
from sqlalchemy.types import Text as TextType

from iocd.domain.query import (
    And,
    AnyEq,
    Compare,
    Expr,
    In,
    IndicatorQuery,
    Not,
    Op,
    Or,
    Scalar,
    Sight,
    StringFunction,
    Text,
    Visibility,
    _compare,
)
from iocd.domain.scope import SEPARATOR
from iocd.domain.types import IndicatorState
from iocd.errors import InvalidInput
from iocd.store.mapping import INDICATOR_SELECT
from iocd.store.tables import indicator_groups, indicators

SQLITE_FOLD_FUNCTION = "iocd_casefold"
"""Registered on every SQLite connection by engine.py (Python's str.casefold)."""

ESCAPE = "\\"


class fold(FunctionElement[str]):
    """Case folding for case-insensitive text functions."""

    type = TextType()
    inherit_cache = True


@compiles(fold)
def _fold_default(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(fold, "sqlite")
def _fold_sqlite(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_FOLD_FUNCTION}({compiler.process(element.clauses, **kw)})"


class position(FunctionElement[int]):
    """1-based position of the second argument inside the first, 0 when absent (case-sensitive)."""

    type = Integer()
    inherit_cache = True


@compiles(position)
def _position_default(element: position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strpos({compiler.process(element.clauses, **kw)})"


@compiles(position, "sqlite")
def _position_sqlite(element: position, compiler: SQLCompiler, **kw: Any) -> str:
    return f"instr({compiler.process(element.clauses, **kw)})"


@dataclass(frozen=True, slots=True)
class Field:
    column: Any
    kind: str  # "int", "bool", "datetime", "text", "collection"
    nullable: bool


_c = indicators.c
FIELD_COLUMNS: dict[str, Field] = {
    "id": Field(_c.id, "int", False),
    "indicatorType": Field(_c.indicator_type, "text", False),
    "indicatorValue": Field(_c.value, "text", False),
    "action": Field(_c.action, "text", False),
    "severity": Field(_c.severity, "text", False),
    "title": Field(_c.title, "text", False),
    "description": Field(_c.description, "text", False),
    "recommendedActions": Field(_c.recommended_actions, "text", True),
    "application": Field(_c.application, "text", True),
    "educateUrl": Field(_c.educate_url, "text", True),
    "externalId": Field(_c.external_id, "text", True),
    "category": Field(_c.category, "text", True),
    "generateAlert": Field(_c.generate_alert, "bool", False),
    "expirationTime": Field(_c.expiration_time, "datetime", True),
    "createdBy": Field(_c.created_by, "text", False),
    "createdByDisplayName": Field(_c.created_by_display_name, "text", False),
    "createdBySource": Field(_c.created_by_source, "text", False),
    "sourceType": Field(_c.source_type, "text", False),
    "creationTimeDateTimeUtc": Field(_c.created_at, "datetime", False),
    "lastUpdateTime": Field(_c.last_updated_at, "datetime", False),
    "lastUpdatedBy": Field(_c.last_updated_by, "text", False),
    "rbacGroupNames": Field(_c.rbac_group_names, "collection", False),
    "mitreTechniques": Field(_c.mitre_techniques, "collection", False),
    "state": Field(_c.state, "text", False),
}


class _Mismatch:
    """A value that can never equal any value of the field."""


MISMATCH = _Mismatch()


def _coerce(field: Field, value: Scalar) -> Any:
    """The value as the column compares it, or MISMATCH (None stays None)."""
    if value is None:
        return None
    if field.kind == "int":
        return int(value) if isinstance(value, int) else MISMATCH
    if field.kind == "datetime":
        ok = isinstance(value, datetime) and value.utcoffset() is not None
        return value if ok else MISMATCH
    if field.kind == "text":
        if isinstance(value, Enum):
            value = value.value
        return str(value) if isinstance(value, str) else MISMATCH
    return MISMATCH  # collections never equal a scalar


class Compiler:
    """Compiles for one dialect ('sqlite' or 'postgresql'), over the columns of one table:
    `columns` maps wire field names to columns (the indicators' by default; store.alerts gives
    the alerts'), `id_column` breaks ordering ties."""

    def __init__(
        self,
        dialect: str,
        columns: dict[str, Field] | None = None,
        id_column: Any = None,
    ) -> None:
        self.dialect = dialect
        self.columns = FIELD_COLUMNS if columns is None else columns
        self.id_column = indicators.c.id if id_column is None else id_column

    def _field(self, name: str) -> Field:
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidInput("$filter", f"unknown field {name!r}", "ODataError") from None

    def group_column(self, name: str) -> Any:
        """A text field's column, to group counts by (other kinds are refused)."""
        field = self._field(name)
        if field.kind != "text":
            raise InvalidInput("fields", f"counts group by text fields only, not {name!r}")
        return field.column

    def _ordered(self, field: Field) -> Any:
        """The column as compared/sorted in code-point order."""
        if field.kind in ("text", "collection") and self.dialect == "postgresql":
            return field.column.collate("C")
        return field.column

    def expr(self, node: Expr) -> ColumnElement[bool]:
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, In):
            return self._in(node)
        if isinstance(node, Text):
            return self._text(node)
        if isinstance(node, AnyEq):
            return self._any_eq(node)
        if isinstance(node, And):
            return and_(*map(self.expr, node.items)) if node.items else true()
        if isinstance(node, Or):
            return or_(*map(self.expr, node.items)) if node.items else false()
        if isinstance(node, Not):
            return not_(self.expr(node.item))
        raise InvalidInput("$filter", f"unsupported filter node {type(node).__name__}")

    def _compare(self, node: Compare) -> ColumnElement[bool]:
        field = self._field(node.field)
        column, op = field.column, node.op
        if field.kind == "bool":
            kept = [b for b in (False, True) if _compare(b, op, node.value)]
            return column.in_(kept) if kept else false()
        value = _coerce(field, node.value)
        if value is None:
            if op is Op.EQ:
                return column.is_(None) if field.nullable else false()
            if op is Op.NE:
                return column.is_not(None) if field.nullable else true()
            return false()
        if value is MISMATCH:
            return true() if op is Op.NE else false()
        if op is Op.EQ:
            return and_(column.is_not(None), column == value) if field.nullable else column == value
        if op is Op.NE:
            return or_(column.is_(None), column != value) if field.nullable else column != value
        ordered = self._ordered(field)
        test = {
            Op.GT: ordered > value,
            Op.GE: ordered >= value,
            Op.LT: ordered < value,
            Op.LE: ordered <= value,
        }[op]
        return and_(column.is_not(None), test) if field.nullable else test

    def _in(self, node: In) -> ColumnElement[bool]:
        field = self._field(node.field)
        column = field.column
        if field.kind == "bool":
            kept = [b for b in (False, True) if b in node.values]
            return column.in_(kept) if kept else false()
        values = [_coerce(field, v) for v in node.values]
        present = list(dict.fromkeys(v for v in values if v is not None and v is not MISMATCH))
        tests: list[ColumnElement[bool]] = []
        if present:
            test = column.in_(present)
            tests.append(and_(column.is_not(None), test) if field.nullable else test)
        if field.nullable and None in values:
            tests.append(column.is_(None))
        return or_(*tests) if tests else false()

    def _text(self, node: Text) -> ColumnElement[bool]:
        field = self._field(node.field)
        if field.kind != "text":
            raise InvalidInput(
                "$filter", f"{node.function.value} needs a text field; {node.field!r} is not one"
            )
        needle = "".join(ESCAPE + ch if ch in "%_\\" else ch for ch in node.value)
        pattern = {
            StringFunction.STARTSWITH: f"{needle}%",
            StringFunction.ENDSWITH: f"%{needle}",
            StringFunction.CONTAINS: f"%{needle}%",
        }[node.function]
        test = fold(field.column).like(fold(literal(pattern, TextType())), escape=ESCAPE)
        return and_(field.column.is_not(None), test) if field.nullable else test

    def _any_eq(self, node: AnyEq) -> ColumnElement[bool]:
        field = self._field(node.field)
        if field.kind != "collection":
            raise InvalidInput("$filter", f"field {node.field!r} is not a collection", "ODataError")
        value = node.value
        if not isinstance(value, str) or not value or SEPARATOR in value:
            return false()  # members are non-empty and never hold the separator
        if node.field == "rbacGroupNames" and self.columns is FIELD_COLUMNS:
            g = indicator_groups.c
            return exists().where(g.indicator_id == indicators.c.id, g.group_name == value)
        haystack = literal(SEPARATOR, TextType()) + field.column + literal(SEPARATOR, TextType())
        return position(haystack, literal(SEPARATOR + value + SEPARATOR, TextType())) > 0

    def sight(self, sight: Sight) -> ColumnElement[bool] | None:
        if sight.kind is Visibility.ALL:
            return None
        if sight.kind is Visibility.OWN:
            return indicators.c.created_by == sight.owner
        if not sight.groups:
            return false()
        g = indicator_groups.c
        outside = exists().where(
            g.indicator_id == indicators.c.id, g.group_name.not_in(sorted(sight.groups))
        )
        return and_(indicators.c.scope_key != "", not_(outside))

    def conditions(self, query: IndicatorQuery, now: datetime) -> list[ColumnElement[bool]]:
        """The WHERE terms of a query: state (unless include_inactive), sight, filter."""
        terms: list[ColumnElement[bool]] = []
        if not query.include_inactive:
            terms.append(active(now))
        seen = self.sight(query.sight)
        if seen is not None:
            terms.append(seen)
        if query.where is not None:
            terms.append(self.expr(query.where))
        if query.after_id is not None:
            terms.append(indicators.c.id > query.after_id)
        return terms

    def order_by(self, query: IndicatorQuery) -> list[Any]:
        terms: list[Any] = []
        for name, descending in query.order_by:
            field = self._field(name)
            column = self._ordered(field)
            if descending:
                terms.append(column.desc().nulls_last() if field.nullable else column.desc())
            else:
                terms.append(column.asc().nulls_first() if field.nullable else column.asc())
        terms.append(self.id_column.asc())
        return terms

    def page(self, query: IndicatorQuery, now: datetime) -> Select[Any]:
        """SELECT of one page of a query: filtered, ordered, skip/top applied."""
        return (
            select(*INDICATOR_SELECT)
            .where(*self.conditions(query, now))
            .order_by(*self.order_by(query))
            .offset(query.skip)
            .limit(query.top)
        )


def stored_active() -> ColumnElement[bool]:
    """state = 'active', with the constant written into the SQL (not bound) so the planners can
    match the partial unique index, whose predicate is that very text."""
    return indicators.c.state == bindparam(
        "active_state", IndicatorState.ACTIVE.value, literal_execute=True
    )


def active(now: datetime) -> ColumnElement[bool]:
    """Stored active and not past expiry at `now` (expiry takes effect at the instant given)."""
    c = indicators.c
    return and_(stored_active(), or_(c.expiration_time.is_(None), c.expiration_time > now))
