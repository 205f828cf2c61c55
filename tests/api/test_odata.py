"""The OData query parser of `GET /api/indicators` (SPEC section 7): trees, errors, safety."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.api.odata import (
    MAX_TOP,
    parse_count,
    parse_filter,
    parse_orderby,
    parse_skip,
    parse_top,
    split_query,
)
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import Indicator, format_datetime
from iocd.domain.query import (
    And,
    AnyEq,
    Compare,
    Expr,
    In,
    Not,
    Op,
    Or,
    Scalar,
    StringFunction,
    Text,
    matches,
)
from iocd.domain.types import IndicatorState
from iocd.errors import InvalidInput

SHA256 = "ABCDEF0123456789" * 4
T0 = datetime(2024, 1, 31, 10, 0, tzinfo=UTC)


def eq(field: str, value: Scalar) -> Compare:
    return Compare(field, Op.EQ, value)


def odata_error(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(text)
    assert caught.value.code == "ODataError"
    assert caught.value.field == "$filter"
    return caught.value


def tree_or_odata_error(text: str) -> Expr | None:
    """The parsed tree, or None after checking that the only failure is an ODataError."""
    error: InvalidInput | None = None
    try:
        return parse_filter(text)
    except InvalidInput as exc:
        error = exc
    assert error.code == "ODataError"
    assert error.field == "$filter"
    return None


# -- constructs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("id eq 7", eq("id", 7)),
        ("id eq '7'", eq("id", 7)),
        ("id gt 7", Compare("id", Op.GT, 7)),
        ("title ne 'x'", Compare("title", Op.NE, "x")),
        ("title ge 'a'", Compare("title", Op.GE, "a")),
        ("title lt 'a'", Compare("title", Op.LT, "a")),
        ("title le 'a'", Compare("title", Op.LE, "a")),
        ("title eq 'it''s'", eq("title", "it's")),
        ("title eq ''''''", eq("title", "''")),
        ("title eq ''", eq("title", "")),
        ("title eq null", eq("title", None)),
        ("generateAlert eq true", eq("generateAlert", True)),
        ("generateAlert ne FALSE", Compare("generateAlert", Op.NE, False)),
        ("severity eq 'HIGH'", eq("severity", "High")),
        ("indicatorType eq 'filesha256'", eq("indicatorType", "FileSha256")),
        ("action eq 'Alert'", eq("action", "Audit")),
        ("action eq 'alertandblock'", eq("action", "BlockAndRemediate")),
        ("action eq 'block'", eq("action", "Block")),
        ("state eq 'Active'", eq("state", "active")),
        ("ID EQ 7", eq("id", 7)),
        ("IndicatorValue Eq '1.2.3.4'", eq("indicatorValue", "1.2.3.4")),
        ("(id eq 1)", eq("id", 1)),
        ("((((id eq 1))))", eq("id", 1)),
        ("  id\teq\n1  ", eq("id", 1)),
        ("id in (1, 2, '3')", In("id", (1, 2, 3))),
        ("id in [1,2]", In("id", (1, 2))),
        ("title in ('a')", In("title", ("a",))),
        ("severity in ['low', 'Medium']", In("severity", ("Low", "Medium"))),
        ("id eq 1 and id eq 2", And((eq("id", 1), eq("id", 2)))),
        ("id eq 1 AND id eq 2 And id eq 3", And((eq("id", 1), eq("id", 2), eq("id", 3)))),
        ("id eq 1 or id eq 2", Or((eq("id", 1), eq("id", 2)))),
        ("not id eq 1", Not(eq("id", 1))),
        ("NOT (id eq 1)", Not(eq("id", 1))),
        ("not not id eq 1", Not(Not(eq("id", 1)))),
    ],
)
def test_parses_each_construct(text: str, tree: Expr) -> None:
    assert parse_filter(text) == tree


@pytest.mark.parametrize("function", list(StringFunction))
def test_string_functions_with_optional_tolower_and_boolean_comparison(
    function: StringFunction,
) -> None:
    name = function.value
    text = Text(function, "title", "ab")
    assert parse_filter(f"{name}(title, 'ab')") == text
    assert parse_filter(f"{name.upper()}(tolower(title),tolower('ab'))") == text
    assert parse_filter(f"{name}(title, 'ab') eq true") == text
    assert parse_filter(f"{name}(title, 'ab') ne false") == text
    assert parse_filter(f"{name}(title, 'ab') eq false") == Not(text)
    assert parse_filter(f"{name}(title, 'ab') ne true") == Not(text)
    assert parse_filter(f"{name}(title, 'ab') eq false and id eq 1") == And(
        (Not(text), eq("id", 1))
    )


def test_precedence_is_or_then_and_then_not() -> None:
    a, b, c = eq("id", 1), eq("id", 2), eq("id", 3)
    assert parse_filter("id eq 1 or id eq 2 and id eq 3") == Or((a, And((b, c))))
    assert parse_filter("id eq 1 and id eq 2 or id eq 3") == Or((And((a, b)), c))
    assert parse_filter("not id eq 1 and id eq 2") == And((Not(a), b))
    assert parse_filter("not (id eq 1 and id eq 2)") == Not(And((a, b)))
    assert parse_filter("(id eq 1 or id eq 2) and id eq 3") == And((Or((a, b)), c))


def test_twenty_ored_hashes_parse_quickly_and_are_normalised() -> None:
    hashes = [f"{n:064X}" for n in range(20)]
    text = " or ".join(f"indicatorValue eq '{h}'" for h in hashes)
    started = time.perf_counter()
    for _ in range(20):
        tree = parse_filter(text)
    assert time.perf_counter() - started < 2
    assert tree == Or(tuple(eq("indicatorValue", h.lower()) for h in hashes))


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2024-01-31T10:00:00Z", T0),
        ("2024-01-31T10:00:00.1234567Z", T0 + timedelta(microseconds=123456)),
        ("2024-01-31T10:00:00.1Z", T0 + timedelta(microseconds=100000)),
        ("2024-01-31T12:00:00+02:00", T0),
        ("2024-01-31T10:00Z", T0),
        ("2024-01-31", T0 - timedelta(hours=10)),
        ("datetime'2024-01-31T10:00:00Z'", T0),
        ("'2024-01-31T10:00:00Z'", T0),
    ],
)
def test_datetime_literals(literal: str, expected: datetime) -> None:
    assert parse_filter(f"expirationTime ge {literal}") == Compare(
        "expirationTime", Op.GE, expected
    )
    tree = parse_filter(f"lastUpdateTime lt {literal}")
    assert tree == Compare("lastUpdateTime", Op.LT, expected)


def test_datetime_fields_take_null_but_not_strings_or_numbers() -> None:
    assert parse_filter("expirationTime eq null") == eq("expirationTime", None)
    assert "datetime" in odata_error("expirationTime ge 5").reason
    assert "ISO-8601" in odata_error("expirationTime ge 'soon'").reason
    assert (
        "not an ISO-8601" in odata_error("expirationTime ge 2024-01-31T10:00:00.12345678Z").reason
    )
    assert "not a valid datetime" in odata_error("creationTimeDateTimeUtc ge 2024-02-30").reason


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (f"indicatorValue eq '{SHA256}'", SHA256.lower()),
        ("indicatorValue eq 'Example.COM.'", "example.com"),
        ("indicatorValue eq 'HTTP://X.Example:80/a/../b'", "http://x.example/b"),
        ("indicatorValue eq '2001:DB8::0001'", "2001:db8::1"),
        ("indicatorValue eq 'not a value!'", "not a value!"),
    ],
)
def test_indicator_value_literals_are_normalised(text: str, value: str) -> None:
    assert parse_filter(text) == eq("indicatorValue", value)


def test_indicator_value_normalisation_follows_the_type_in_the_same_conjunction() -> None:
    thumb = ":".join(["AB"] * 20)
    tree = parse_filter(f"indicatorType eq 'CertificateThumbprint' and indicatorValue eq '{thumb}'")
    assert tree == And(
        (eq("indicatorType", "CertificateThumbprint"), eq("indicatorValue", "ab" * 20))
    )
    # A bare host read as a URL gains a scheme and a path; as a domain it does not.
    tree = parse_filter("indicatorType eq 'Url' and indicatorValue in ('X.example', 'Y.example')")
    assert tree == And(
        (
            eq("indicatorType", "Url"),
            In("indicatorValue", ("http://x.example/", "http://y.example/")),
        )
    )
    tree = parse_filter("indicatorValue ne 'X.example' and indicatorType in ('DomainName')")
    assert tree == And(
        (Compare("indicatorValue", Op.NE, "x.example"), In("indicatorType", ("DomainName",)))
    )
    # Outside the conjunction the type says nothing; ordering comparisons are left alone.
    assert parse_filter("indicatorType eq 'Url' or indicatorValue eq 'X.example'") == Or(
        (eq("indicatorType", "Url"), eq("indicatorValue", "x.example"))
    )
    assert parse_filter("indicatorValue gt 'ABC'") == Compare("indicatorValue", Op.GT, "ABC")
    assert parse_filter("startswith(indicatorValue, 'ABC')") == Text(
        StringFunction.STARTSWITH, "indicatorValue", "ABC"
    )


def test_any_lambdas() -> None:
    assert parse_filter("rbacGroupNames/any(g: g eq 'Servers')") == AnyEq(
        "rbacGroupNames", "Servers"
    )
    assert parse_filter("rbacGroupNames/ANY(x:x eq ' Servers ')") == AnyEq(
        "rbacGroupNames", "Servers"
    )
    assert parse_filter("mitreTechniques/any(t: t eq 't1059.001')") == AnyEq(
        "mitreTechniques", "T1059.001"
    )
    assert parse_filter("rbacGroupNames/any(g: g eq 'A' or g eq 'B' or (g eq 'C'))") == Or(
        (AnyEq("rbacGroupNames", "A"), AnyEq("rbacGroupNames", "B"), AnyEq("rbacGroupNames", "C"))
    )
    assert parse_filter("rbacGroupNames/any(g: g in ('A', 'B'))") == Or(
        (AnyEq("rbacGroupNames", "A"), AnyEq("rbacGroupNames", "B"))
    )
    assert parse_filter("not rbacGroupNames/any(g: g eq 'A') and id eq 1") == And(
        (Not(AnyEq("rbacGroupNames", "A")), eq("id", 1))
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("foo eq 1", "unknown field 'foo'"),
        ("rbacGroupNames eq 'x'", "is a collection"),
        ("title/any(g: g eq 'x')", "not a collection"),
        ("rbacGroupNames/all(g: g eq 'x')", "expected any(...)"),
        ("rbacGroupNames/any(g: g eq 'x' and g eq 'y')", "only 'or' joins"),
        ("rbacGroupNames/any(g: h eq 'x')", "write g eq 'value'"),
        ("rbacGroupNames/any(g: g eq 1)", "expected a quoted string"),
        ("rbacGroupNames/any()", "lambda variable"),
        ("id eq", "at end of input"),
        ("id", "expected eq, ne"),
        ("id eq 1 id eq 2", "column 9: expected 'and', 'or'"),
        ("id eq 1)", "column 8"),
        ("(id eq 1", "')' to close the '(' at column 1"),
        ("id eq 1 and", "at end of input: expected a field name"),
        ("title eq 'abc", "column 10: unterminated string"),
        ("title eq abc", "expected a quoted string"),
        ("title eq 5", "expected a quoted string"),
        ("id eq 'x'", "expected an integer id"),
        ("id eq 1.5", "whole numbers"),
        ("id eq 99999999999999999999", "out of range"),
        ("id eq '99999999999999999999'", "expected an integer id"),
        ("generateAlert eq 'true'", "expected true or false"),
        ("generateAlert gt true", "only be compared with eq, ne or in"),
        ("severity gt 'Low'", "only be compared with eq, ne or in"),
        ("severity eq 'Severe'", "unknown value 'Severe'"),
        ("action eq 'Nuke'", "unknown value"),
        ("title gt null", "null can only be compared with eq or ne"),
        ("title in ()", "expected a quoted string"),
        ("title in ('a' 'b')", "expected ',' or ')'"),
        ("title in ['a')", "expected ',' or ']'"),
        ("title in 'a'", "expected '(' or '['"),
        ("title in ('a', null)", "null cannot be listed"),
        ("startswith(id, '1')", "needs a text field"),
        ("startswith(title)", "expected ','"),
        ("startswith(title, 5)", "expected a quoted string"),
        ("startswith(title, 'a') gt true", "can only be followed by eq true/false"),
        ("startswith(title, 'a') eq 'x'", "can only be followed by eq true/false"),
        ("tolower(title) eq 'a'", "unsupported function 'tolower'"),
        ("substringof('a', title)", "unsupported function"),
        ("1 eq id", "expected a field name"),
        ("true", "expected a field name"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("id eq 1 ; id eq 2", "unexpected character ';'"),
        ("id eq 1 \x00", "U+0000"),
        ("id eq 1 &", "unexpected character '&'"),
    ],
)
def test_errors_are_odata_errors_that_say_where_and_what(text: str, expected: str) -> None:
    error = odata_error(text)
    assert expected in error.reason, error.reason
    assert error.reason.startswith(("at column ", "at end of input", "is "))


# -- safety ---------------------------------------------------------------------------------------


def leaves(expr: Expr) -> list[Expr]:
    if isinstance(expr, And | Or):
        return [leaf for item in expr.items for leaf in leaves(item)]
    if isinstance(expr, Not):
        return leaves(expr.item)
    return [expr]


@pytest.mark.parametrize(
    "text",
    [
        "indicatorValue eq 'x' or 1 eq 1",
        "indicatorValue eq 'x' or id eq id",
        "title eq ''; DROP TABLE indicators; --'",
        "title eq '; DROP TABLE indicators; --'",
        "title eq 'x'; DROP TABLE indicators; --",
        "title eq 'x' -- comment",
        "title eq 'x' /* c */",
        'title eq "x"',
        "title eq 'x' union select * from indicators",
        "title eq 'a' or 'a' eq 'a'",
        "title eq 'x''",
        "title eq 'x' or title eq 'y",
        "(((title eq 'x')",
        "title eq 'x'))",
        "id eq 1 or 1=1",
        "id eq 0x10",
        "secret eq 'x'",
        "indicators.title eq 'x'",
        "title eq 'x\\' or 1 eq 1 --'",
    ],
)
def test_injection_attempts_are_harmless(text: str) -> None:
    tree = tree_or_odata_error(text)
    if tree is None:
        return
    for leaf in leaves(tree):  # a literal stays a literal, whatever it says
        assert isinstance(leaf, Compare | In | Text | AnyEq)
        assert leaf.field in {"title", "indicatorValue", "id"}


def test_sql_in_a_literal_is_only_a_value() -> None:
    assert parse_filter("title eq '''; DROP TABLE indicators; --'") == eq(
        "title", "'; DROP TABLE indicators; --"
    )
    # A backslash escapes nothing: the literal ends at the next quote.
    assert "column 18: expected a field name" in odata_error("title eq 'x\\' or 1 eq 1 --'").reason


def test_limits_on_length_depth_and_terms() -> None:
    assert parse_filter("(" * 100 + "id eq 1" + ")" * 100) == eq("id", 1)
    assert "deeper than 100" in odata_error("(" * 101 + "id eq 1" + ")" * 101).reason
    assert "deeper than 100" in odata_error("(" * 50_000).reason
    assert "deeper than 100" in odata_error("not " * 101 + "id eq 1").reason
    assert "deeper than 100" in odata_error("rbacGroupNames/any(g:" + "(" * 100 + "g eq 'x'").reason
    many = " or ".join(["id eq 1"] * 1001)
    assert "more than 1000 terms" in odata_error(many).reason
    assert "more than 1000 terms" in odata_error(f"id in ({', '.join(['1'] * 1001)})").reason
    assert isinstance(parse_filter(" or ".join(["id eq 1"] * 1000)), Or)
    assert "limit is 65536" in odata_error("title eq '" + "x" * 70_000 + "'").reason
    assert "unterminated" in odata_error("title eq '" + "x" * 60_000).reason
    assert "out of range" in odata_error("id eq " + "9" * 10_000).reason
    assert "out of range" in odata_error("id eq " + "0" * 10_000 + "1" * 20).reason
    assert parse_filter("id eq " + "0" * 10_000 + "1") == eq("id", 1)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_invalid_input(text: str) -> None:
    tree_or_odata_error(text)


_PIECES = [
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "/",
    "'",
    "''",
    "'x'",
    "'ABC'",
    "id",
    "title",
    "severity",
    "indicatorValue",
    "indicatorType",
    "expirationTime",
    "generateAlert",
    "rbacGroupNames",
    "any",
    "g",
    "eq",
    "ne",
    "gt",
    "in",
    "and",
    "or",
    "not",
    "true",
    "false",
    "null",
    "1",
    "-1",
    "2024-01-31T10:00:00Z",
    "2024-13-45T99:99",
    "datetime'2024-01-01'",
    "startswith",
    "contains",
    "tolower",
    "'FileSha256'",
    "'Url'",
    "'http://X.example/a?b=1'",
    "1.5",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25), st.sampled_from(["", " "]))
def test_token_soup_raises_only_invalid_input(pieces: list[str], glue: str) -> None:
    tree_or_odata_error(glue.join(pieces))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([None, "FileSha256", "FileMd5", "CertificateThumbprint", "Url", "DomainName"]),
    st.text(max_size=80),
)
def test_any_indicator_value_literal_parses(kind: str | None, value: str) -> None:
    literal = "'" + value.replace("'", "''") + "'"
    text = f"indicatorValue eq {literal}"
    if kind is not None:
        text = f"indicatorType eq '{kind}' and {text}"
    tree = parse_filter(text)
    assert isinstance(tree, Compare | And)


# -- round trip: random trees rendered to OData text parse back to themselves ---------------------

_TEXT_FIELDS = ["title", "description", "externalId", "createdBy", "category"]
_ENUM_VALUES = {
    "severity": ["Informational", "Low", "Medium", "High"],
    "action": ["Allowed", "Audit", "Warn", "Block", "BlockAndRemediate"],
    "indicatorType": ["FileSha256", "FileMd5", "Url", "DomainName", "IpAddress"],
}
_ORDERING = [Op.GT, Op.GE, Op.LT, Op.LE]
_EQUALITY = [Op.EQ, Op.NE]
_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
_text = st.text(st.characters(codec="utf-8"), max_size=12)
_group = _text.map(str.strip).filter(bool)

_leaf = st.one_of(
    st.builds(Compare, st.just("id"), st.sampled_from(list(Op)), st.integers(0, 2**63 - 1)),
    st.builds(Compare, st.sampled_from(_TEXT_FIELDS), st.sampled_from(list(Op)), _text),
    st.builds(Compare, st.sampled_from(_TEXT_FIELDS), st.sampled_from(_EQUALITY), st.none()),
    st.sampled_from(list(_ENUM_VALUES)).flatmap(
        lambda f: st.builds(
            Compare, st.just(f), st.sampled_from(_EQUALITY), st.sampled_from(_ENUM_VALUES[f])
        )
    ),
    st.builds(Compare, st.just("generateAlert"), st.sampled_from(_EQUALITY), st.booleans()),
    st.builds(Compare, st.just("expirationTime"), st.sampled_from(_ORDERING), _datetimes),
    st.builds(
        Compare,
        st.just("indicatorValue"),
        st.sampled_from(_EQUALITY),
        st.integers(0, 2**256 - 1).map(lambda n: f"{n:064x}"),
    ),
    st.builds(
        In, st.sampled_from(_TEXT_FIELDS), st.lists(_text, min_size=1, max_size=4).map(tuple)
    ),
    st.builds(
        In, st.just("id"), st.lists(st.integers(0, 10**6), min_size=1, max_size=4).map(tuple)
    ),
    st.builds(Text, st.sampled_from(list(StringFunction)), st.sampled_from(_TEXT_FIELDS), _text),
    st.builds(AnyEq, st.just("rbacGroupNames"), _group),
    st.builds(
        AnyEq,
        st.just("mitreTechniques"),
        st.integers(1000, 9999).map(lambda n: f"T{n}"),
    ),
)
_trees = st.recursive(
    _leaf,
    lambda children: st.one_of(
        st.builds(Not, children),
        st.lists(children, min_size=2, max_size=4).map(lambda items: And(tuple(items))),
        st.lists(children, min_size=2, max_size=4).map(lambda items: Or(tuple(items))),
    ),
    max_leaves=16,
)


def render(expr: Expr, shout: bool) -> str:
    """OData text for a tree; `shout` upper-cases keywords as some clients do."""

    def kw(word: str) -> str:
        return word.upper() if shout else word

    def lit(value: Any) -> str:
        if value is None:
            return kw("null")
        if isinstance(value, bool):
            return kw(str(value).lower())
        if isinstance(value, int):
            return str(value)
        if isinstance(value, datetime):
            return format_datetime(value)
        return "'" + str(value).replace("'", "''") + "'"

    def group(item: Expr) -> str:
        text = render(item, shout)
        return f"({text})" if isinstance(item, And | Or | Not) else text

    if isinstance(expr, Compare):
        return f"{expr.field} {kw(expr.op.value)} {lit(expr.value)}"
    if isinstance(expr, In):
        values = ", ".join(lit(v) for v in expr.values)
        return f"{expr.field} {kw('in')} [{values}]" if shout else f"{expr.field} in ({values})"
    if isinstance(expr, Text):
        return f"{expr.function.value}({expr.field}, {lit(expr.value)})"
    if isinstance(expr, AnyEq):
        return f"{expr.field}/any(x: x {kw('eq')} {lit(expr.value)})"
    if isinstance(expr, Not):
        return f"{kw('not')} {group(expr.item)}"
    joiner = f" {kw('and' if isinstance(expr, And) else 'or')} "
    return joiner.join(group(item) for item in expr.items)


@settings(max_examples=300, deadline=None)
@given(_trees, st.booleans())
def test_rendered_trees_parse_back_to_themselves(tree: Expr, shout: bool) -> None:
    assert parse_filter(render(tree, shout)) == tree


# -- meaning: parsed filters evaluated against indicators -----------------------------------------


def indicator(n: int, indicator_type: str, value: str, **extra: Any) -> Indicator:
    args: dict[str, Any] = {
        "indicator_type": indicator_type,
        "value": value,
        "action": "Block",
        "title": f"indicator {n}",
        "description": "test",
    }
    args.update(extra)
    return Indicator(
        id=n,
        fields=build_fields(**args),
        state=IndicatorState.ACTIVE,
        created_by="app",
        created_by_display_name="App",
        created_by_source="PublicApi",
        source_type="AadApp",
        created_at=T0,
        last_updated_at=T0,
        last_updated_by="app",
        sequence=n,
    )


INDICATORS = [
    indicator(1, "FileSha256", SHA256, severity="High", rbac_group_names=["Servers"]),
    indicator(2, "Url", "https://bad.example/a?b=1&c=2", action="Alert", title="Phishing kit"),
    indicator(
        3,
        "DomainName",
        "Evil.Example",
        expiration_time="2024-02-01T00:00:00Z",
        mitre_techniques=["t1566"],
        rbac_group_names=["Laptops", "Servers"],
    ),
]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        (f"indicatorValue eq '{SHA256}'", [1]),
        (f"indicatorType eq 'filesha256' and indicatorValue in ['{SHA256}']", [1]),
        ("indicatorValue eq 'HTTPS://BAD.example:443/a?b=1&c=2'", [2]),
        ("indicatorValue eq 'evil.example.'", [3]),
        ("action eq 'alert'", [2]),
        ("action eq 'Block' and not severity eq 'High'", [3]),
        ("severity eq 'high' or rbacGroupNames/any(g: g eq 'Laptops')", [1, 3]),
        ("rbacGroupNames/any(g: g eq 'Servers')", [1, 3]),
        ("mitreTechniques/any(t: t eq 'T1566')", [3]),
        ("startswith(tolower(title), 'PHISH')", [2]),
        ("contains(title, 'kit') eq false", [1, 3]),
        ("endswith(indicatorValue, '.EXAMPLE')", [3]),
        ("expirationTime lt 2024-02-01T00:00:00.0000001Z", []),
        ("expirationTime le 2024-02-01T01:00:00+01:00", [3]),
        ("expirationTime eq null", [1, 2]),
        ("generateAlert eq true", [2]),
        ("id in (1, '3') and id ne 1", [3]),
        ("not (id eq 1 or id eq 2)", [3]),
    ],
)
def test_parsed_filters_select_the_right_indicators(text: str, ids: list[int]) -> None:
    tree = parse_filter(text)
    assert [i.id for i in INDICATORS if matches(tree, i)] == ids


# -- the other options ----------------------------------------------------------------------------


def test_orderby() -> None:
    assert parse_orderby("") == ()
    assert parse_orderby("id") == (("id", False),)
    assert parse_orderby(" title DESC , ID asc,severity") == (
        ("title", True),
        ("id", False),
        ("severity", False),
    )
    assert parse_orderby("expirationTime desc") == (("expirationTime", True),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rbacGroupNames", "is a collection"),
        ("mitreTechniques desc", "is a collection"),
        ("nope", "unknown field"),
        ("id sideways", "expected asc or desc"),
        ("id desc extra", "expected 'field [asc|desc]'"),
        ("id,", "column 4: expected 'field [asc|desc]', found an empty item"),
        ("id, id desc", "column 5: id is listed twice"),
    ],
)
def test_orderby_errors(text: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_orderby(text)
    assert caught.value.code == "ODataError"
    assert caught.value.field == "$orderby"
    assert expected in caught.value.reason


def test_top_skip_count() -> None:
    assert parse_top("0") == 0
    assert parse_top(" 25 ") == 25
    assert parse_top(str(MAX_TOP)) == 10_000
    assert parse_skip("0") == 0
    assert parse_skip("123456789") == 123456789
    assert parse_count("true") is True
    assert parse_count("False") is False
    for parse, option, bad in [
        (parse_top, "$top", "10001"),
        (parse_top, "$top", "-1"),
        (parse_top, "$top", "ten"),
        (parse_top, "$top", ""),
        (parse_top, "$top", "1.0"),
        (parse_top, "$top", "9" * 5000),
        (parse_skip, "$skip", "-5"),
        (parse_skip, "$skip", "٣"),
        (parse_skip, "$skip", str(2**63)),
        (parse_count, "$count", "yes"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            parse(bad)
        assert (caught.value.field, caught.value.code) == (option, "ODataError")


# -- the raw query string -------------------------------------------------------------------------


def test_split_query_decodes_a_fully_encoded_query() -> None:
    raw = "%24filter=indicatorValue+eq+%27http%3A%2F%2Fx.example%2Fa%3Fb%3D1%26c%3D2%27&%24top=5"
    assert split_query(raw) == {
        "$filter": "indicatorValue eq 'http://x.example/a?b=1&c=2'",
        "$top": "5",
    }
    tree = parse_filter(split_query(raw)["$filter"])
    assert tree == eq("indicatorValue", "http://x.example/a?b=1&c=2")


def test_split_query_keeps_raw_ampersands_inside_quotes() -> None:
    raw = "$filter=indicatorValue%20eq%20'http://x.example/a?b=1&c=2'%20and%20title%20eq%20'a''&b'&$top=5"
    assert split_query(raw) == {
        "$filter": "indicatorValue eq 'http://x.example/a?b=1&c=2' and title eq 'a''&b'",
        "$top": "5",
    }
    mixed = "?$Filter=title eq %27x&y%27&%24ORDERBY=id+desc&%24skip=2&$count=true"
    assert split_query(mixed) == {
        "$filter": "title eq 'x&y'",
        "$orderby": "id desc",
        "$skip": "2",
        "$count": "true",
    }


def test_split_query_edge_cases() -> None:
    assert split_query("") == {}
    assert split_query("?") == {}
    assert split_query("&&$top=1&") == {"$top": "1"}
    assert split_query("$count") == {"$count": ""}
    # Apostrophes outside '$' options do not start literals.
    assert split_query("name=O'Brien&$top=3") == {"name": "O'Brien", "$top": "3"}
    # An unbalanced quote swallows the rest, and the filter parser then says so.
    swallowed = split_query("$filter=title eq 'x&$top=5")
    assert swallowed == {"$filter": "title eq 'x&$top=5"}
    assert "unterminated" in odata_error(swallowed["$filter"]).reason
    with pytest.raises(InvalidInput) as caught:
        split_query("$filter=id eq 1&%24FILTER=id eq 2")
    assert (caught.value.field, caught.value.code) == ("$filter", "ODataError")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_split_query_never_fails_on_arbitrary_text(raw: str) -> None:
    error: InvalidInput | None = None
    try:
        result = split_query(raw)
    except InvalidInput as exc:
        error = exc
    if error is not None:
        assert error.code == "ODataError"
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())
