"""OData query options of `GET /api/indicators` and `GET /api/alerts` (SPEC section 7): a
hand-written parser over the FieldTable of the record listed (domain.query, domain.alerts).

`parse_filter` turns `$filter` text into an iocd.domain.query filter tree; it only ever builds a
tree (stores translate trees with bound parameters), and every error it raises is InvalidInput
with code ODataError naming the column and what was expected. Inputs are bounded in length,
nesting depth and number of terms. No web framework here: the API door calls these functions.
"""

from __future__ import annotations

import re

from iocd.api.odata_lexer import (
    CODE,
    MAX_INT,
    MAX_LENGTH,
    MAX_TOP,
    Kind,
    Token,
    describe,
    odata_error,
    parse_count,
    parse_orderby,
    parse_skip,
    parse_top,
    split_query,
    tokenize,
)
from iocd.domain.indicator import parse_datetime
from iocd.domain.query import (
    INDICATOR_FIELDS,
    And,
    AnyEq,
    Compare,
    Expr,
    FieldTable,
    In,
    Not,
    Op,
    Or,
    Scalar,
    StringFunction,
    Text,
)
from iocd.domain.types import IndicatorType
from iocd.domain.values import detect_type, normalise
from iocd.errors import InvalidInput

__all__ = [
    "MAX_TOP",
    "parse_count",
    "parse_filter",
    "parse_orderby",
    "parse_skip",
    "parse_top",
    "split_query",
]

MAX_DEPTH = 100
MAX_TERMS = 1000

_OPS = {op.value: op for op in Op}
_ORDERING = frozenset({Op.GT, Op.GE, Op.LT, Op.LE})
_FUNCTIONS = {f.value: f for f in StringFunction}
_CASE_FUNCTIONS = frozenset({"tolower", "toupper"})
_LITERAL_WORDS = frozenset({"true", "false", "null"})


class _Parser:
    def __init__(self, text: str, table: FieldTable) -> None:
        self.table = table
        self.source = tokenize(text)
        self.tokens: list[Token] = []
        self.i = 0
        self.depth = 0
        self.terms = 0

    # -- token helpers -------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        while len(self.tokens) <= self.i + ahead:
            if self.tokens and self.tokens[-1].kind is Kind.END:
                return self.tokens[-1]
            self.tokens.append(next(self.source))
        return self.tokens[self.i + ahead]

    def advance(self) -> Token:
        token = self.peek()
        if token.kind is not Kind.END:
            self.i += 1
        return token

    @staticmethod
    def word(token: Token, *words: str) -> bool:
        return token.kind is Kind.NAME and token.text.casefold() in words

    @staticmethod
    def fail(token: Token, message: str) -> InvalidInput:
        return odata_error("$filter", None if token.kind is Kind.END else token.pos, message)

    def expect(self, kind: Kind, what: str) -> Token:
        token = self.advance()
        if token.kind is not kind:
            raise self.fail(token, f"expected {what}, found {describe(token)}")
        return token

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(token, f"the filter nests deeper than {MAX_DEPTH} levels")

    def term(self, token: Token) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.fail(token, f"the filter has more than {MAX_TERMS} terms")

    # -- grammar: or < and < not < primary -----------------------------------------------------
    def parse(self) -> Expr:
        expr = self.or_expr()
        token = self.peek()
        if token.kind is not Kind.END:
            raise self.fail(token, f"expected 'and', 'or' or the end, found {describe(token)}")
        return expr

    def or_expr(self) -> Expr:
        items = [self.and_expr()]
        while self.word(self.peek(), "or"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Expr:
        items = [self.not_expr()]
        while self.word(self.peek(), "and"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Expr:
        count = 0
        while self.word(self.peek(), "not"):
            self.enter(self.advance())
            count += 1
        expr = self.primary()
        for _ in range(count):
            expr = Not(expr)
        self.depth -= count
        return expr

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind is Kind.LPAREN:
            self.enter(self.advance())
            expr = self.or_expr()
            self.expect(Kind.RPAREN, f"')' to close the '(' at column {token.pos + 1}")
            self.depth -= 1
            return expr
        if token.kind is Kind.NAME and token.text.casefold() not in _LITERAL_WORDS:
            after = self.peek(1).kind
            if after is Kind.LPAREN:
                return self.function()
            if after is Kind.SLASH:
                return self.lambda_any()
            return self.comparison()
        hint = " (write field op literal)" if token.kind is not Kind.RPAREN else ""
        raise self.fail(
            token, f"expected a field name, 'not' or '(', found {describe(token)}{hint}"
        )

    def field(self, token: Token, *, collection: bool = False) -> str:
        if token.kind is not Kind.NAME:
            raise self.fail(token, f"expected a field name, found {describe(token)}")
        table = self.table
        name = table.by_folded(token.text)
        try:
            return table.check(name, collection=collection)
        except InvalidInput as exc:
            hint = ""
            if name not in table.getters:
                hint = f"; expected one of {', '.join(table.getters)}"
            elif name in table.collections:
                hint = f"; use {name}/any(x: x eq 'value')"
            raise self.fail(token, exc.reason + hint) from None

    # -- field op literal, field in (...) ------------------------------------------------------
    def comparison(self) -> Expr:
        name = self.advance()
        field = self.field(name)
        op_token = self.advance()
        if self.word(op_token, "in"):
            return In(field, self.literal_list(field))
        op = _OPS.get(op_token.text.casefold()) if op_token.kind is Kind.NAME else None
        if op is None:
            raise self.fail(
                op_token,
                f"expected eq, ne, gt, ge, lt, le or in after {field}, found {describe(op_token)}",
            )
        self.term(name)
        return Compare(field, op, self.literal(field, op, self.advance()))

    def literal_list(self, field: str) -> tuple[Scalar, ...]:
        opening = self.advance()
        if opening.kind not in (Kind.LPAREN, Kind.LBRACKET):
            raise self.fail(opening, f"expected '(' or '[' after 'in', found {describe(opening)}")
        closing = Kind.RPAREN if opening.kind is Kind.LPAREN else Kind.RBRACKET
        values: list[Scalar] = []
        while True:
            token = self.advance()
            if self.word(token, "null"):
                raise self.fail(token, f"null cannot be listed in 'in'; write {field} eq null")
            self.term(token)
            values.append(self.literal(field, Op.EQ, token))
            separator = self.advance()
            if separator.kind is closing:
                return tuple(values)
            if separator.kind is not Kind.COMMA:
                raise self.fail(
                    separator,
                    f"expected ',' or {closing.value} in the list opened at column "
                    f"{opening.pos + 1}, found {describe(separator)}",
                )

    def literal(self, field: str, op: Op, token: Token) -> Scalar:
        if self.word(token, "null"):
            if op in _ORDERING:
                raise self.fail(token, "null can only be compared with eq or ne")
            return None
        table = self.table
        if field in table.integers:
            return self.id_literal(token)
        if op in _ORDERING and (field in table.enums or field in table.booleans):
            raise self.fail(token, f"{field} can only be compared with eq, ne or in")
        if field in table.booleans:
            if self.word(token, "true", "false"):
                return token.text.casefold() == "true"
            raise self.fail(token, f"expected true or false, found {describe(token)}")
        if field in table.datetimes:
            return self.datetime_literal(field, token)
        if token.kind is not Kind.STRING or not isinstance(token.value, str):
            raise self.fail(token, f"expected a quoted string for {field}, found {describe(token)}")
        if field in table.enums:
            try:
                return table.enums[field](token.value).value
            except InvalidInput as exc:
                raise self.fail(token, exc.reason) from None
        return token.value

    def id_literal(self, token: Token) -> int:
        if token.kind is Kind.INT and isinstance(token.value, int):
            return token.value
        if token.kind is Kind.STRING and isinstance(token.value, str):
            digits = token.value.strip()
            if re.fullmatch(r"[0-9]{1,19}", digits, re.ASCII) and int(digits) <= MAX_INT:
                return int(digits)
        raise self.fail(token, f"expected an integer id, found {describe(token)}")

    def datetime_literal(self, field: str, token: Token) -> Scalar:
        if token.kind is Kind.DATETIME:
            return token.value
        if token.kind is Kind.STRING and isinstance(token.value, str):
            try:
                return parse_datetime(field, token.value)
            except InvalidInput as exc:
                raise self.fail(token, exc.reason) from None
        raise self.fail(
            token,
            f"expected a datetime like 2024-01-31T10:00:00Z for {field}, found {describe(token)}",
        )

    # -- startswith(field, 'x') [eq true|false] ------------------------------------------------
    def function(self) -> Expr:
        name = self.advance()
        function = _FUNCTIONS.get(name.text.casefold())
        if function is None:
            supported = ", ".join(_FUNCTIONS)
            raise self.fail(name, f"unsupported function {name.text!r}; supported: {supported}")
        self.enter(self.expect(Kind.LPAREN, "'('"))
        field_token = self.unwrap_case()
        field = self.field(field_token)
        if field not in self.table.text_fields:
            raise self.fail(
                field_token, f"{function.value}() needs a text field; {field} is not text"
            )
        self.expect(Kind.COMMA, f"',' after the field of {function.value}()")
        value = self.unwrap_case()
        if value.kind is not Kind.STRING or not isinstance(value.value, str):
            raise self.fail(value, f"expected a quoted string, found {describe(value)}")
        self.expect(Kind.RPAREN, f"')' to close {function.value}(")
        self.depth -= 1
        self.term(name)
        expr: Expr = Text(function, field, value.value)
        if self.word(self.peek(), "eq", "ne", "gt", "ge", "lt", "le"):
            op = self.advance()
            flag = self.advance()
            if not self.word(op, "eq", "ne") or not self.word(flag, "true", "false"):
                raise self.fail(op, f"{function.value}(...) can only be followed by eq true/false")
            if (op.text.casefold() == "eq") != (flag.text.casefold() == "true"):
                expr = Not(expr)
        return expr

    def unwrap_case(self) -> Token:
        """A token, or the single argument of tolower(...)/toupper(...) (matching ignores case)."""
        token = self.advance()
        if self.word(token, *_CASE_FUNCTIONS) and self.peek().kind is Kind.LPAREN:
            self.advance()
            inner = self.advance()
            self.expect(Kind.RPAREN, f"')' to close {token.text}(")
            return inner
        return token

    # -- rbacGroupNames/any(g: g eq 'X' or g eq 'Y') -------------------------------------------
    def lambda_any(self) -> Expr:
        field = self.field(self.advance(), collection=True)
        self.advance()  # the '/'
        name = self.advance()
        if not self.word(name, "any"):
            raise self.fail(name, f"expected any(...) after {field}/, found {describe(name)}")
        opening = self.expect(Kind.LPAREN, "'(' after any")
        self.enter(opening)
        variable = self.expect(Kind.NAME, "a lambda variable like g").text
        self.expect(Kind.COLON, f"':' after the lambda variable {variable!r}")
        expr = self.lambda_or(field, variable)
        self.expect(Kind.RPAREN, f"')' to close any( at column {opening.pos + 1} (only 'or' joins)")
        self.depth -= 1
        return expr

    def lambda_or(self, field: str, variable: str) -> Expr:
        items = [self.lambda_term(field, variable)]
        while self.word(self.peek(), "or"):
            self.advance()
            items.append(self.lambda_term(field, variable))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def lambda_term(self, field: str, variable: str) -> Expr:
        token = self.advance()
        if token.kind is Kind.LPAREN:
            self.enter(token)
            expr = self.lambda_or(field, variable)
            self.expect(Kind.RPAREN, f"')' to close the '(' at column {token.pos + 1}")
            self.depth -= 1
            return expr
        op = self.advance()
        if token.kind is not Kind.NAME or token.text != variable or not self.word(op, "eq", "in"):
            raise self.fail(token, f"inside any() write {variable} eq 'value' (joined by 'or')")
        if op.text.casefold() == "in":
            values = self.literal_list(field)
        else:
            self.term(token)
            values = (self.literal(field, Op.EQ, self.advance()),)
        norm = self.table.collection_values.get(field, str.strip)
        items = tuple(AnyEq(field, norm(v)) for v in values if isinstance(v, str))
        return items[0] if len(items) == 1 else Or(items)


def _type_constraint(items: tuple[Expr, ...]) -> frozenset[IndicatorType] | None:
    """The indicator types an And of these items allows, or None when it says nothing."""
    allowed: frozenset[IndicatorType] | None = None
    for item in items:
        raw: tuple[Scalar, ...]
        if isinstance(item, Compare) and item.field == "indicatorType" and item.op is Op.EQ:
            raw = (item.value,)
        elif isinstance(item, In) and item.field == "indicatorType":
            raw = item.values
        else:
            continue
        kinds = frozenset(IndicatorType(v) for v in raw if isinstance(v, str))
        allowed = kinds if allowed is None else allowed & kinds
    return allowed


def _canonical(value: Scalar, kinds: frozenset[IndicatorType]) -> Scalar:
    if not isinstance(value, str):
        return value
    try:
        kind = next(iter(kinds)) if len(kinds) == 1 else detect_type(value)
        return normalise(kind, value)
    except (InvalidInput, ValueError):  # not a valid value of that type: compare it as given
        return value


def _normalise_values(expr: Expr, kinds: frozenset[IndicatorType]) -> Expr:
    """Canonicalise indicatorValue literals of eq/ne/in, so that they match stored values."""
    if isinstance(expr, And):
        own = _type_constraint(expr.items)
        inner = kinds if own is None else own
        return And(tuple(_normalise_values(item, inner) for item in expr.items))
    if isinstance(expr, Or):
        return Or(tuple(_normalise_values(item, kinds) for item in expr.items))
    if isinstance(expr, Not):
        return Not(_normalise_values(expr.item, kinds))
    if isinstance(expr, Compare) and expr.field == "indicatorValue" and expr.op in (Op.EQ, Op.NE):
        return Compare(expr.field, expr.op, _canonical(expr.value, kinds))
    if isinstance(expr, In) and expr.field == "indicatorValue":
        return In(expr.field, tuple(_canonical(v, kinds) for v in expr.values))
    return expr


def parse_filter(text: str, table: FieldTable = INDICATOR_FIELDS) -> Expr:
    """The filter tree of a `$filter` value over the fields of `table` (indicators by default);
    InvalidInput (code ODataError) if it is not valid. Indicator values are canonicalised."""
    if len(text) > MAX_LENGTH:
        raise InvalidInput(
            "$filter", f"is {len(text)} characters long; the limit is {MAX_LENGTH}", CODE
        )
    if not text.strip():
        raise InvalidInput("$filter", "is empty; expected a condition like id eq 1", CODE)
    tree = _Parser(text, table).parse()
    return _normalise_values(tree, frozenset()) if table is INDICATOR_FIELDS else tree
