"""Row mapping details that the contract suite does not see directly."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from iocd.domain.types import Action, IndicatorType
from iocd.store.mapping import _dumps, _json_default

REFERENCE = json.JSONEncoder(ensure_ascii=False, default=_json_default).encode


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"indicatorType": [None, IndicatorType.URL], "action": [None, Action.BLOCK]},
        {"title": ['é ☃ \u2028 "q" \\', "new\nline"], "n": [1, 2.5, True, None]},
        {"expirationTime": [None, datetime(2031, 1, 1, 12, 30, tzinfo=UTC)]},
        {"groups": [{"b", "a"}, frozenset({"c"})], "nested": {"deep": [[1], {"x": None}]}},
        "a bare string",
    ],
)
def test_audit_json_is_what_the_standard_encoder_writes(changes: object) -> None:
    assert _dumps(changes) == REFERENCE(changes)


def test_audit_json_refuses_what_it_cannot_store() -> None:
    with pytest.raises(TypeError, match="cannot store object"):
        _dumps({"x": object()})


def test_the_shared_encoder_is_safe_across_threads() -> None:
    values = [{"i": [n, "v" * (n % 50)], "d": {"k": list(range(n % 20))}} for n in range(2_000)]
    expected = [REFERENCE(v) for v in values]
    errors: list[str] = []

    def encode_all() -> None:
        for value, text in zip(values, expected, strict=True):
            if _dumps(value) != text:
                errors.append(text)

    threads = [threading.Thread(target=encode_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
