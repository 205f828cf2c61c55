"""Queries over the indicator list (and alerts): a small filter tree on wire field names, plus
paging. Which names a query may use, and how literals for them are read, is a FieldTable.

The OData parser (api), CLI options and portal filters all build these trees; each store
translates them (SQL) or evaluates them (`matches`, used by the in-memory store).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from iocd.domain.indicator import Indicator
from iocd.domain.types import IndicatorState, parse_action, parse_indicator_type, parse_severity
from iocd.errors import InvalidInput

Scalar = str | int | bool | datetime | None


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


class StringFunction(StrEnum):
    STARTSWITH = "startswith"
    ENDSWITH = "endswith"
    CONTAINS = "contains"


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: Op
    value: Scalar


@dataclass(frozen=True, slots=True)
class In:
    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Text:
    """startswith/endswith/contains on a text field, case-insensitive as MDE's are."""

    function: StringFunction
    field: str
    value: str


@dataclass(frozen=True, slots=True)
class AnyEq:
    """`rbacGroupNames/any(g: g eq 'X')`: the collection holds the value."""

    field: str
    value: str


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


Expr = Compare | In | Text | AnyEq | And | Or | Not


class Visibility(StrEnum):
    ALL = "all"
    GROUPS = "groups"
    OWN = "own"


@dataclass(frozen=True, slots=True)
class Sight:
    """What a caller may see: everything, indicators scoped within its groups, or its own."""

    kind: Visibility = Visibility.ALL
    groups: frozenset[str] = frozenset()
    owner: str = ""


@dataclass(frozen=True, slots=True)
class IndicatorQuery:
    """A page of indicators. Order is stable: ties are broken by id."""

    where: Expr | None = None
    order_by: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    skip: int = 0
    top: int = 100
    include_inactive: bool = False
    sight: Sight = field(default_factory=Sight)
    after_id: int | None = None
    """Keyset paging: only indicators with a greater id (used with the default id order, so a
    client paging through millions never makes the store skip over rows already sent)."""


@dataclass(frozen=True, slots=True)
class FieldTable:
    """The fields a query may name on one kind of record (indicators, alerts), by wire name.

    `getters` read a field from a record (enums as their wire text, collections as tuples);
    the other sets say how a literal for the field is read: `integers` (ids), `booleans`,
    `datetimes`, `enums` (each with the parser that turns wire text into a member) and
    `collection_values` (how a member of a collection is normalised). Every other field that
    is not a collection is text.
    """

    record: str
    getters: Mapping[str, Callable[[Any], Any]]
    collections: frozenset[str] = frozenset()
    datetimes: frozenset[str] = frozenset()
    booleans: frozenset[str] = frozenset()
    integers: frozenset[str] = frozenset({"id"})
    enums: Mapping[str, Callable[[str], StrEnum]] = field(default_factory=dict)
    collection_values: Mapping[str, Callable[[str], str]] = field(default_factory=dict)

    @property
    def text_fields(self) -> frozenset[str]:
        others = self.collections | self.datetimes | self.booleans | self.integers
        return frozenset(name for name in self.getters if name not in others)

    def by_folded(self, name: str) -> str:
        """The field's own spelling for a name given in any case (the name itself if unknown)."""
        folded = name.casefold()
        return next((n for n in self.getters if n.casefold() == folded), name)

    def check(self, name: str, *, collection: bool = False) -> str:
        if name not in self.getters:
            raise InvalidInput("$filter", f"unknown field {name!r}", "ODataError")
        if collection != (name in self.collections):
            kind = "a collection" if name in self.collections else "not a collection"
            raise InvalidInput("$filter", f"field {name!r} is {kind}", "ODataError")
        return name


def _parse_state(raw: str) -> IndicatorState:
    for state in IndicatorState:
        if state.value == raw.strip().casefold():
            return state
    choices = ", ".join(s.value for s in IndicatorState)
    raise InvalidInput("state", f"unknown value {raw!r}; expected one of {choices}")


# Wire field name -> how to read it from an Indicator. Enums read as their wire text.
FIELDS: dict[str, Callable[[Indicator], Any]] = {
    "id": lambda i: i.id,
    "indicatorType": lambda i: i.fields.indicator_type.value,
    "indicatorValue": lambda i: i.fields.value,
    "action": lambda i: i.fields.action.value,
    "severity": lambda i: i.fields.severity.value,
    "title": lambda i: i.fields.title,
    "description": lambda i: i.fields.description,
    "recommendedActions": lambda i: i.fields.recommended_actions,
    "application": lambda i: i.fields.application,
    "educateUrl": lambda i: i.fields.educate_url,
    "externalId": lambda i: i.fields.external_id,
    "category": lambda i: i.fields.category,
    "generateAlert": lambda i: i.fields.generate_alert,
    "expirationTime": lambda i: i.fields.expiration_time,
    "createdBy": lambda i: i.created_by,
    "createdByDisplayName": lambda i: i.created_by_display_name,
    "createdBySource": lambda i: i.created_by_source,
    "sourceType": lambda i: i.source_type,
    "creationTimeDateTimeUtc": lambda i: i.created_at,
    "lastUpdateTime": lambda i: i.last_updated_at,
    "lastUpdatedBy": lambda i: i.last_updated_by,
    "rbacGroupNames": lambda i: i.fields.rbac_group_names,
    "mitreTechniques": lambda i: i.fields.mitre_techniques,
    "state": lambda i: i.state.value,
}
INDICATOR_FIELDS = FieldTable(
    record="Indicators",
    getters=FIELDS,
    collections=frozenset({"rbacGroupNames", "mitreTechniques"}),
    datetimes=frozenset({"expirationTime", "creationTimeDateTimeUtc", "lastUpdateTime"}),
    booleans=frozenset({"generateAlert"}),
    enums={
        "indicatorType": parse_indicator_type,
        "action": parse_action,
        "severity": parse_severity,
        "state": _parse_state,
    },
    collection_values={
        "rbacGroupNames": str.strip,
        "mitreTechniques": lambda v: v.strip().upper(),
    },
)
COLLECTION_FIELDS = INDICATOR_FIELDS.collections
TEXT_FIELDS = INDICATOR_FIELDS.text_fields


def check_field(
    name: str, *, collection: bool = False, table: FieldTable = INDICATOR_FIELDS
) -> str:
    return table.check(name, collection=collection)


def _compare(left: Any, op: Op, right: Scalar) -> bool:
    if op is Op.EQ:
        return bool(left == right)
    if op is Op.NE:
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op is Op.GT:
            return bool(left > right)
        if op is Op.GE:
            return bool(left >= right)
        if op is Op.LT:
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False


def matches(
    expr: Expr, indicator: Any, getters: Mapping[str, Callable[[Any], Any]] = FIELDS
) -> bool:
    """Evaluate a filter tree against one record (the in-memory store's engine); `getters` are
    those of the record's FieldTable (an indicator's by default)."""
    if isinstance(expr, Compare):
        return _compare(getters[expr.field](indicator), expr.op, expr.value)
    if isinstance(expr, In):
        return getters[expr.field](indicator) in expr.values
    if isinstance(expr, Text):
        text = getters[expr.field](indicator)
        if text is None:
            return False
        haystack, needle = str(text).casefold(), expr.value.casefold()
        if expr.function is StringFunction.STARTSWITH:
            return haystack.startswith(needle)
        if expr.function is StringFunction.ENDSWITH:
            return haystack.endswith(needle)
        return needle in haystack
    if isinstance(expr, AnyEq):
        return expr.value in getters[expr.field](indicator)
    if isinstance(expr, And):
        return all(matches(item, indicator, getters) for item in expr.items)
    if isinstance(expr, Or):
        return any(matches(item, indicator, getters) for item in expr.items)
    return not matches(expr.item, indicator, getters)


def visible(sight: Sight, indicator: Indicator) -> bool:
    """Whether a caller with this sight may see the indicator (policy.access builds the sight)."""
    if sight.kind is Visibility.ALL:
        return True
    if sight.kind is Visibility.OWN:
        return indicator.created_by == sight.owner
    groups = indicator.fields.rbac_group_names
    return bool(groups) and set(groups) <= sight.groups
