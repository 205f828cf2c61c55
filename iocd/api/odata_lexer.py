"""The lexical side of the OData query options (SPEC section 7), used by iocd.api.odata.

Tokens of the `$filter` language, the raw query string split into options (MDE clients encode
it in full and put `&`, `=` and `?` inside quoted literals), and the simple options `$orderby`,
`$top`, `$skip` and `$count`. Every error is InvalidInput with code ODataError.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from urllib.parse import unquote_plus

from iocd.domain.indicator import parse_datetime
from iocd.domain.query import INDICATOR_FIELDS, FieldTable
from iocd.errors import InvalidInput

CODE = "ODataError"
MAX_DIGITS = 19
MAX_INT = 2**63 - 1  # integers must fit a signed 64-bit column
MAX_TOP = 10_000
MAX_LENGTH = 64 * 1024  # of one option's value
MAX_QUERY = 4 * MAX_LENGTH


class Kind(Enum):
    NAME = "name"
    STRING = "string"
    INT = "integer"
    DATETIME = "datetime"
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACKET = "'['"
    RBRACKET = "']'"
    COMMA = "','"
    COLON = "':'"
    SLASH = "'/'"
    END = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # the source text of the token
    pos: int  # offset of its first character
    value: str | int | datetime | None = None


_PUNCTUATION = {
    "(": Kind.LPAREN,
    ")": Kind.RPAREN,
    "[": Kind.LBRACKET,
    "]": Kind.RBRACKET,
    ",": Kind.COMMA,
    ":": Kind.COLON,
    "/": Kind.SLASH,
}
_SPACE = frozenset(" \t\r\n")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
# Broad on purpose: parse_datetime then says precisely what is wrong with the text.
_DATETIME = re.compile(r"\d{4}-\d\d-\d\d(?:[Tt][0-9:.]*(?:[Zz]|[+-][0-9:]*)?)?", re.ASCII)
_NUMBER = re.compile(r"-?\d+(?:\.\d*)?", re.ASCII)
_TYPED_DATETIME = frozenset({"datetime", "datetimeoffset"})


def odata_error(field: str, pos: int | None, message: str) -> InvalidInput:
    """An ODataError naming the 1-based column (or the end of input) of the problem."""
    where = "at end of input" if pos is None else f"at column {pos + 1}"
    return InvalidInput(field, f"{where}: {message}", CODE)


def describe(token: Token) -> str:
    """How a token is named in an error message."""
    if token.kind is Kind.END:
        return "the end of input"
    text = token.text if len(token.text) <= 40 else token.text[:37] + "..."
    return f"{token.kind.value} {text!r}" if token.kind.value[0] != "'" else token.kind.value


def _string(text: str, start: int, field: str) -> tuple[str, int]:
    """The value of the quoted string opening at `start` and the offset just past it."""
    parts: list[str] = []
    i = start + 1
    while True:
        close = text.find("'", i)
        if close < 0:
            raise odata_error(
                field,
                start,
                "unterminated string literal; strings are single-quoted and a quote inside "
                "one is doubled ('')",
            )
        parts.append(text[i:close])
        if text.startswith("''", close):
            parts.append("'")
            i = close + 2
            continue
        return "".join(parts), close + 1


def _datetime(field: str, raw: str, pos: int) -> datetime:
    try:
        return parse_datetime(field, raw)
    except InvalidInput as exc:
        raise odata_error(field, pos, exc.reason) from None


def tokenize(text: str, field: str = "$filter") -> Iterator[Token]:
    """The tokens of a filter, lazily (so the first error found is the leftmost), then END."""
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in _SPACE:
            i += 1
        elif char in _PUNCTUATION:
            yield Token(_PUNCTUATION[char], char, i)
            i += 1
        elif char == "'":
            value, end = _string(text, i, field)
            yield Token(Kind.STRING, text[i:end], i, value)
            i = end
        elif (match := _NAME.match(text, i)) is not None:
            word, end = match.group(), match.end()
            if word.casefold() in _TYPED_DATETIME and text.startswith("'", end):
                raw, after = _string(text, end, field)
                yield Token(Kind.DATETIME, text[i:after], i, _datetime(field, raw, end))
                i = after
            else:
                yield Token(Kind.NAME, word, i, word)
                i = end
        elif (match := _DATETIME.match(text, i)) is not None:
            yield Token(Kind.DATETIME, match.group(), i, _datetime(field, match.group(), i))
            i = match.end()
        elif (match := _NUMBER.match(text, i)) is not None:
            raw = match.group()
            if "." in raw:
                raise odata_error(field, i, f"{raw!r}: only whole numbers are supported")
            digits = raw.lstrip("-").lstrip("0") or "0"
            number = int(digits) if len(digits) <= MAX_DIGITS else None
            if number is None or number > MAX_INT:
                raise odata_error(field, i, f"integer {raw[:25]!r} is out of range")
            yield Token(Kind.INT, raw, i, -number if raw.startswith("-") else number)
            i = match.end()
        else:
            shown = char if char.isprintable() else f"U+{ord(char):04X}"
            raise odata_error(field, i, f"unexpected character {shown!r}")
    yield Token(Kind.END, "", n)


def _whole_number(option: str, text: str, maximum: int) -> int:
    digits = text.strip()
    if not re.fullmatch(r"\+?[0-9]{1,30}", digits, re.ASCII):
        raise InvalidInput(
            option, f"expected a whole number from 0 to {maximum}, found {text[:40]!r}", CODE
        )
    value = int(digits)
    if value > maximum:
        raise InvalidInput(option, f"{value} is more than the maximum of {maximum}", CODE)
    return value


def parse_top(text: str) -> int:
    """`$top`: a page size from 0 to 10,000."""
    return _whole_number("$top", text, MAX_TOP)


def parse_skip(text: str) -> int:
    """`$skip`: rows to pass over, 0 or more."""
    return _whole_number("$skip", text, MAX_INT)


def parse_count(text: str) -> bool:
    """`$count`: true or false, in any case."""
    folded = text.strip().casefold()
    if folded not in ("true", "false"):
        raise InvalidInput("$count", f"expected true or false, found {text[:40]!r}", CODE)
    return folded == "true"


def _parts(raw: str) -> list[str]:
    """Split on '&' outside the single-quoted literals of '$' options ('%27' is a quote too)."""
    parts: list[str] = []
    start = i = 0
    keyed = quoted = tracks = False  # tracks: this part is a '$' option, whose value has literals
    while i < len(raw):
        char, step = raw[i], 1
        if char == "&" and not quoted:
            parts.append(raw[start:i])
            start, keyed, tracks = i + 1, False, False
        elif char == "=" and not keyed:
            keyed, tracks = True, unquote_plus(raw[start:i]).strip().startswith("$")
        elif tracks and (char == "'" or raw[i : i + 3].casefold() == "%27"):
            quoted, step = not quoted, 1 if char == "'" else 3
        i += step
    parts.append(raw[start:])
    return parts


def split_query(raw_query_string: str) -> dict[str, str]:
    """Decode a raw query string into option -> value; '$' options have lower-case names."""
    raw = raw_query_string[1:] if raw_query_string.startswith("?") else raw_query_string
    if len(raw) > MAX_QUERY:
        raise InvalidInput("query", f"the query string is longer than {MAX_QUERY} characters", CODE)
    out: dict[str, str] = {}
    for part in _parts(raw):
        if not part:
            continue
        key_raw, _, value_raw = part.partition("=")
        key = unquote_plus(key_raw).strip()
        if key.startswith("$"):
            key = key.casefold()
            if key in out:
                raise InvalidInput(key, "is given more than once", CODE)
        elif key in out:
            continue
        out[key] = unquote_plus(value_raw)
    return out


def parse_orderby(text: str, table: FieldTable = INDICATOR_FIELDS) -> tuple[tuple[str, bool], ...]:
    """`field [asc|desc], ...` as (field, descending) pairs over the fields of `table`; an empty
    text orders by nothing."""
    if len(text) > MAX_LENGTH:
        raise InvalidInput("$orderby", f"is longer than {MAX_LENGTH} characters", CODE)
    out: list[tuple[str, bool]] = []
    pos = 0
    for item in text.split(",") if text.strip() else ():
        words = item.split()
        column = pos + len(item) - len(item.lstrip())
        pos += len(item) + 1
        if not words or len(words) > 2:
            problem = "an empty item" if not words else f"{item.strip()!r}"
            raise odata_error("$orderby", column, f"expected 'field [asc|desc]', found {problem}")
        name = table.by_folded(words[0])
        try:
            table.check(name)
        except InvalidInput as exc:
            raise odata_error("$orderby", column, f"cannot order by it: {exc.reason}") from None
        direction = words[1].casefold() if len(words) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise odata_error(
                "$orderby", column, f"expected asc or desc after {name}, found {words[1]!r}"
            )
        if any(name == seen for seen, _ in out):
            raise odata_error("$orderby", column, f"{name} is listed twice")
        out.append((name, direction == "desc"))
    return tuple(out)
