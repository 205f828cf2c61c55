"""list/count/iterate select, order and page exactly alike on every store.

One small dataset covers every field kind; each query's expected ids are pinned by hand (so
the memory store, the reference, is checked too) and every store must return exactly them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from iocd.domain.indicator import Indicator
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
    Sight,
    StringFunction,
    Text,
    Visibility,
)
from iocd.domain.types import Action, IndicatorState, IndicatorType, Severity
from iocd.errors import InvalidInput
from iocd.services.ports import Store
from tests.factories import T0, make_fields, make_indicator

NOW = T0
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def dataset() -> list[Indicator]:
    """Active at NOW: 1, 2, 3, 8. Time-expired but stored active: 4, 7. Deleted 5, expired 6."""
    f = make_fields
    rows = [
        f(1, IndicatorType.IP_ADDRESS, title="Alpha", description="Ärger im Büro",
          severity=Severity.HIGH, generate_alert=True, external_id="ext-1",
          category="Execution", mitre_techniques=("T1059",), application="Edge"),
        f(2, IndicatorType.IP_ADDRESS, action=Action.AUDIT, title="beta", severity=Severity.LOW,
          generate_alert=True, expiration_time=NOW + DAY, rbac_group_names=("Berlin",)),
        f(3, IndicatorType.DOMAIN_NAME, title="Gamma 50%_off", description="promo",
          expiration_time=NOW + 2 * DAY, rbac_group_names=("Berlin", "Paris"),
          mitre_techniques=("T1059", "T1566.001"), recommended_actions="",
          application="App_1"),
        f(4, IndicatorType.FILE_SHA256, action=Action.BLOCK_AND_REMEDIATE, title="delta",
          severity=Severity.HIGH, expiration_time=NOW - HOUR, rbac_group_names=("Paris",),
          external_id="ext-4"),
        f(5, IndicatorType.URL, action=Action.WARN, title="Épsilon",
          severity=Severity.INFORMATIONAL, application="edge"),
        f(6, IndicatorType.FILE_MD5, action=Action.ALLOWED, title="zeta",
          severity=Severity.INFORMATIONAL, expiration_time=NOW - 2 * DAY),
        f(7, IndicatorType.CERTIFICATE_THUMBPRINT, action=Action.AUDIT, title="eta",
          generate_alert=True, expiration_time=NOW, rbac_group_names=("Tokyo",)),
        f(8, IndicatorType.DOMAIN_NAME, action=Action.WARN, title="Eta", severity=Severity.LOW,
          category="Exfiltration", external_id="ext-8"),
    ]  # fmt: skip
    states = {5: IndicatorState.DELETED, 6: IndicatorState.EXPIRED}
    owners = {2: "bob", 4: "bob", 7: "carol", 8: "carol"}
    return [
        make_indicator(
            n,
            fields,
            state=states.get(n, IndicatorState.ACTIVE),
            created_by=owners.get(n, "alice"),
            at=NOW - (10 - n) * HOUR,
        )
        for n, fields in enumerate(rows, start=1)
    ]


@pytest.fixture
def loaded(store: Store) -> Store:
    with store.transaction() as tx:
        tx.allocate_ids(8)
        tx.allocate_sequence(8)
        tx.insert(dataset())
    return store


def ids(store: Store, query: IndicatorQuery) -> list[int]:
    with store.transaction() as tx:
        listed = [i.id for i in tx.list(query, NOW)]
        counted = tx.count(query, NOW)
    unpaged = replace(query, skip=0, top=10_000)
    with store.transaction() as tx:
        assert counted == len(tx.list(unpaged, NOW))
    return listed


def q(where: Expr | None = None, **kw: object) -> IndicatorQuery:
    return IndicatorQuery(where=where, **kw)  # type: ignore[arg-type]


EQ, NE, GT, GE, LT, LE = Op.EQ, Op.NE, Op.GT, Op.GE, Op.LT, Op.LE
STARTS, ENDS, CONTAINS = (
    StringFunction.STARTSWITH,
    StringFunction.ENDSWITH,
    StringFunction.CONTAINS,
)

FILTERS: dict[str, tuple[Expr | None, list[int]]] = {
    "no filter": (None, [1, 2, 3, 8]),
    "enum eq": (Compare("action", EQ, "Block"), [1, 3]),
    "enum eq member": (Compare("indicatorType", EQ, IndicatorType.DOMAIN_NAME), [3, 8]),
    "enum ne": (Compare("severity", NE, "Low"), [1, 3]),
    "id gt": (Compare("id", GT, 2), [3, 8]),
    "id le": (Compare("id", LE, 2), [1, 2]),
    "id eq text never": (Compare("id", EQ, "1"), []),
    "id ne text always": (Compare("id", NE, "1"), [1, 2, 3, 8]),
    "text lt code point": (Compare("title", LT, "a"), [1, 3, 8]),
    "text ge": (Compare("title", GE, "Gamma"), [2, 3]),
    "nullable eq null": (Compare("externalId", EQ, None), [2, 3]),
    "nullable ne null": (Compare("externalId", NE, None), [1, 8]),
    "nullable ne value keeps nulls": (Compare("externalId", NE, "ext-1"), [2, 3, 8]),
    "not eq keeps nulls": (Not(Compare("externalId", EQ, "ext-1")), [2, 3, 8]),
    "nullable gt skips nulls": (Compare("application", GT, "A"), [1, 3]),
    "not gt keeps nulls": (Not(Compare("application", GT, "B")), [2, 3, 8]),
    "empty string is not null": (Compare("recommendedActions", EQ, ""), [3]),
    "required eq null": (Compare("title", EQ, None), []),
    "required ne null": (Compare("title", NE, None), [1, 2, 3, 8]),
    "gt null": (Compare("application", GT, None), []),
    "datetime gt": (Compare("expirationTime", GT, NOW + HOUR), [2, 3]),
    "datetime lt skips null": (Compare("expirationTime", LT, NOW + 36 * HOUR), [2]),
    "not datetime lt": (Not(Compare("expirationTime", LT, NOW + 36 * HOUR)), [1, 3, 8]),
    "datetime eq": (Compare("expirationTime", EQ, NOW + DAY), [2]),
    "datetime vs text": (Compare("expirationTime", EQ, "2030-01-02"), []),
    "created ge": (Compare("creationTimeDateTimeUtc", GE, NOW - 8 * HOUR), [2, 3, 8]),
    "bool eq": (Compare("generateAlert", EQ, True), [1, 2]),
    "bool ne": (Compare("generateAlert", NE, True), [3, 8]),
    "bool gt": (Compare("generateAlert", GT, False), [1, 2]),
    "collection eq": (Compare("rbacGroupNames", EQ, "Berlin"), []),
    "collection ne": (Compare("rbacGroupNames", NE, "Berlin"), [1, 2, 3, 8]),
    "in": (In("action", ("Block", "Warn")), [1, 3, 8]),
    "in with null": (In("externalId", ("ext-1", None)), [1, 2, 3]),
    "not in": (Not(In("externalId", ("ext-1",))), [2, 3, 8]),
    "in empty": (In("action", ()), []),
    "in ids": (In("id", (8, 1, 99)), [1, 8]),
    "in bool": (In("generateAlert", (False,)), [3, 8]),
    "in collection": (In("mitreTechniques", ("T1059",)), []),
    "startswith folds case": (Text(STARTS, "title", "ALP"), [1]),
    "contains unicode case": (Text(CONTAINS, "description", "ärger"), [1]),
    "endswith": (Text(ENDS, "indicatorValue", ".COM"), [3, 8]),
    "like metacharacters": (Text(CONTAINS, "title", "50%_"), [3]),
    "percent is literal": (Text(CONTAINS, "title", "%"), [3]),
    "underscore is literal": (Text(CONTAINS, "application", "p_"), [3]),
    "text on null": (Text(CONTAINS, "application", "e"), [1]),
    "not text keeps nulls": (Not(Text(CONTAINS, "application", "e")), [2, 3, 8]),
    "any group": (AnyEq("rbacGroupNames", "Paris"), [3]),
    "any group is exact": (AnyEq("rbacGroupNames", "paris"), []),
    "any technique": (AnyEq("mitreTechniques", "T1059"), [1, 3]),
    "any technique prefix": (AnyEq("mitreTechniques", "T1566"), []),
    "any technique case": (AnyEq("mitreTechniques", "t1059"), []),
    "not any": (Not(AnyEq("rbacGroupNames", "Berlin")), [1, 8]),
    "and": (And((Compare("action", EQ, "Block"), Compare("severity", EQ, "High"))), [1]),
    "or": (Or((Compare("id", EQ, 1), AnyEq("rbacGroupNames", "Berlin"))), [1, 2, 3]),
    "empty and": (And(()), [1, 2, 3, 8]),
    "empty or": (Or(()), []),
    "nested": (
        Or(
            (
                And((Compare("severity", EQ, "Low"), Not(Compare("action", EQ, "Warn")))),
                Text(STARTS, "category", "exe"),
            )
        ),
        [1, 2],
    ),
}


@pytest.mark.parametrize("name", FILTERS)
def test_filter(loaded: Store, name: str) -> None:
    where, expected = FILTERS[name]
    assert ids(loaded, q(where)) == expected


INACTIVE: dict[str, tuple[Expr | None, list[int]]] = {
    "everything": (None, [1, 2, 3, 4, 5, 6, 7, 8]),
    "state": (Compare("state", EQ, "active"), [1, 2, 3, 4, 7, 8]),
    "unicode startswith": (Text(STARTS, "title", "é"), [5]),
    "case folds both ways": (Text(CONTAINS, "application", "EDGE"), [1, 5]),
    "any group": (AnyEq("rbacGroupNames", "Paris"), [3, 4]),
}


@pytest.mark.parametrize("name", INACTIVE)
def test_include_inactive(loaded: Store, name: str) -> None:
    where, expected = INACTIVE[name]
    assert ids(loaded, q(where, include_inactive=True)) == expected


def test_time_expired_rows_are_not_active(loaded: Store) -> None:
    assert ids(loaded, q(Compare("id", EQ, 7))) == []  # expires exactly at NOW
    assert ids(loaded, q(Compare("id", EQ, 4))) == []
    with loaded.transaction() as tx:
        assert [i.id for i in tx.list(q(Compare("id", EQ, 7)), NOW - HOUR)] == [7]
        assert tx.count(q(), NOW + 3 * DAY) == 2  # 1 and 8 never expire
        assert tx.active_count() == 6  # a counter of stored state, not of time


SIGHTS: dict[str, tuple[Sight, bool, list[int]]] = {
    "all": (Sight(), False, [1, 2, 3, 8]),
    "own": (Sight(Visibility.OWN, owner="bob"), True, [2, 4]),
    "own nobody": (Sight(Visibility.OWN, owner=""), True, []),
    "one group": (Sight(Visibility.GROUPS, frozenset({"Berlin"})), True, [2]),
    "two groups": (Sight(Visibility.GROUPS, frozenset({"Berlin", "Paris"})), True, [2, 3, 4]),
    "two groups active": (Sight(Visibility.GROUPS, frozenset({"Berlin", "Paris"})), False, [2, 3]),
    "no groups": (Sight(Visibility.GROUPS, frozenset()), True, []),
    "unknown group": (Sight(Visibility.GROUPS, frozenset({"Nowhere"})), True, []),
}


@pytest.mark.parametrize("name", SIGHTS)
def test_sight(loaded: Store, name: str) -> None:
    sight, inactive, expected = SIGHTS[name]
    assert ids(loaded, q(sight=sight, include_inactive=inactive)) == expected


def test_sight_and_filter_combine(loaded: Store) -> None:
    sight = Sight(Visibility.GROUPS, frozenset({"Berlin", "Paris", "Tokyo"}))
    where = Compare("severity", EQ, "High")
    assert ids(loaded, q(where, sight=sight, include_inactive=True)) == [4]


ORDERS: dict[str, tuple[tuple[tuple[str, bool], ...], list[int]]] = {
    "id desc": ((("id", True),), [8, 7, 6, 5, 4, 3, 2, 1]),
    "title code point": ((("title", False),), [1, 8, 3, 2, 4, 7, 6, 5]),
    "nulls first asc": ((("expirationTime", False),), [1, 5, 8, 6, 4, 7, 2, 3]),
    "nulls last desc": ((("expirationTime", True),), [3, 2, 7, 4, 6, 1, 5, 8]),
    "text nulls": ((("application", False),), [2, 4, 6, 7, 8, 3, 1, 5]),
    "text nulls desc": ((("application", True),), [5, 1, 3, 2, 4, 6, 7, 8]),
    "enum then id": ((("severity", False),), [1, 4, 5, 6, 2, 8, 3, 7]),
    "bool desc ties by id": ((("generateAlert", True),), [1, 2, 7, 3, 4, 5, 6, 8]),
    "groups joined": ((("rbacGroupNames", False),), [1, 5, 6, 8, 2, 3, 4, 7]),
    "techniques desc": ((("mitreTechniques", True),), [3, 1, 2, 4, 5, 6, 7, 8]),
    "two keys": ((("createdBy", False), ("id", True)), [6, 5, 3, 1, 4, 2, 8, 7]),
    "state, created": ((("state", True), ("lastUpdateTime", True)), [6, 5, 8, 7, 4, 3, 2, 1]),
}


@pytest.mark.parametrize("name", ORDERS)
def test_order_by(loaded: Store, name: str) -> None:
    order, expected = ORDERS[name]
    assert ids(loaded, q(order_by=order, include_inactive=True)) == expected


@pytest.mark.parametrize("order", [(), (("severity", False),), (("expirationTime", True),)])
def test_paging_is_stable(loaded: Store, order: tuple[tuple[str, bool], ...]) -> None:
    whole = ids(loaded, q(order_by=order, include_inactive=True))
    pages = [
        ids(loaded, q(order_by=order, include_inactive=True, skip=skip, top=3))
        for skip in range(0, 9, 3)
    ]
    assert [i for page in pages for i in page] == whole
    assert ids(loaded, q(order_by=order, include_inactive=True, skip=8)) == []
    assert ids(loaded, q(order_by=order, include_inactive=True, top=0)) == []


def test_list_returns_whole_indicators(loaded: Store) -> None:
    with loaded.transaction() as tx:
        listed = tx.list(q(include_inactive=True), NOW)
    assert listed == dataset()


def test_iterate_ignores_order_and_paging(loaded: Store) -> None:
    query = q(Compare("action", NE, "Allowed"), order_by=(("title", True),), skip=2, top=1)
    got = [i.id for i in loaded.iterate(replace(query, include_inactive=True), NOW, batch=2)]
    assert got == [1, 2, 3, 4, 5, 7, 8]
    assert [i.id for i in loaded.iterate(query, NOW, batch=3)] == [1, 2, 3, 8]


@pytest.mark.parametrize(
    "where",
    [Compare("nope", EQ, 1), Text(CONTAINS, "id", "1"), AnyEq("title", "a")],
    ids=["unknown field", "text on number", "any on scalar"],
)
def test_sql_rejects_what_it_cannot_compile(loaded: Store, store_kind: str, where: Expr) -> None:
    if store_kind == "memory":
        pytest.skip("the memory store evaluates these leniently (see the SQL store's filters)")
    with pytest.raises(InvalidInput), loaded.transaction() as tx:
        tx.list(q(where), NOW)
