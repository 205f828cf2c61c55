"""A JSON document whose big arrays are decoded one element at a time, in bounded memory.

A STIX bundle or a MISP event is one JSON value; `json.loads` would build every object of it
at once (about ten times the file's size). `decode_lazily(text, plan)` builds only what the
plan names as members, and leaves each array the plan marks lazy as a `LazyArray`: an iterable
that decodes its elements (with the standard library's C decoder) when iterated.

The whole document is still checked before anything is returned: each lazy array is scanned
once, element by element, when its parent is decoded, so a syntax error anywhere (a truncated
file, a stray comma at the end) raises `json.JSONDecodeError` before the first item is used.
Memory is the text itself plus the largest element being decoded.

    plan = Plan(members={"objects": Plan(lazy=True)})      # a STIX bundle
    document = decode_lazily(text, plan)                    # {"type": ..., "objects": LazyArray}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NO_NAME = "Expecting property name enclosed in double quotes"


@dataclass(frozen=True, slots=True)
class Plan:
    """How to decode one value: the members of an object to decode by their own plans (the
    other members are decoded whole), or, for an array, whether it is lazy and how to decode
    each of its elements. A value of another shape than the plan expects is decoded whole."""

    members: Mapping[str, Plan] = field(default_factory=dict)
    lazy: bool = False
    element: Plan | None = None


def decode_lazily(text: str, plan: Plan) -> Any:
    """The document in `text`, lazy where the plan says; JSONDecodeError if any of it is not
    JSON, or if anything but white space follows it."""
    start = _skip(text, 0)
    value, end = _decode(text, start, plan)
    end = _skip(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


class LazyArray:
    """A JSON array of a document, decoded element by element each time it is iterated."""

    __slots__ = ("_element", "_empty", "_length", "_start", "_text")

    def __init__(self, text: str, start: int, element: Plan | None) -> None:
        self._text, self._start, self._element = text, start, element
        self._length = 0
        self._empty = _skip(text, start + 1) < len(text) and text[_skip(text, start + 1)] == "]"

    def __iter__(self) -> Iterator[Any]:
        for value, _ in self._values():
            yield value

    def __bool__(self) -> bool:
        return not self._empty

    def __len__(self) -> int:
        return self._length

    def scan(self) -> int:
        """Check every element (decoding and dropping each); the position after the array."""
        last, count = self._start + 1, 0
        for _, after in self._values():
            last, count = after, count + 1
        self._length = count
        return _skip(self._text, last) + 1

    def _values(self) -> Iterator[tuple[Any, int]]:
        text, element = self._text, self._element
        pos = _skip(text, self._start + 1)
        if pos < len(text) and text[pos] == "]":
            return
        while True:
            value, pos = _decode(text, pos, element)
            yield value, pos
            pos = _skip(text, pos)
            following = text[pos : pos + 1]
            if following == ",":
                pos = _skip(text, pos + 1)
            elif following == "]":
                return
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


def _skip(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]  # always matches


def _decode(text: str, pos: int, plan: Plan | None) -> tuple[Any, int]:
    opening = text[pos : pos + 1]
    if plan is not None and opening == "[" and plan.lazy:
        array = LazyArray(text, pos, plan.element)
        return array, array.scan()
    if plan is not None and opening == "{" and plan.members:
        return _object(text, pos, plan.members)
    return _DECODER.raw_decode(text, pos)


def _object(text: str, pos: int, members: Mapping[str, Plan]) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    if text[pos : pos + 1] == "}":
        return out, pos + 1
    while True:
        if text[pos : pos + 1] != '"':
            raise json.JSONDecodeError(_NO_NAME, text, pos)
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos : pos + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        pos = _skip(text, pos + 1)
        out[key], pos = _decode(text, pos, members.get(key))
        pos = _skip(text, pos)
        following = text[pos : pos + 1]
        if following == ",":
            pos = _skip(text, pos + 1)
        elif following == "}":
            return out, pos + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
