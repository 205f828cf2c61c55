"""Properties: the numpy-only build of a few indicators (part_listed, what the agent's process
compiles an overlay with) gives exactly the part the Arrow build (part_build) gives: the same
arrays, tables, row order, codes and skipped values; and neither needs the other's module."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType
from iocd.matching.compile import Bitset
from iocd.matching.part_build import PartBuilder
from iocd.matching.part_data import PartData, TextColumn
from iocd.matching.part_listed import listed_part_data
from iocd.matching.snapshot import listed_to_batch
from tests.matching.helpers import ind
from tests.matching.test_matching_agree import SETTINGS, indicators
from tests.matching.test_name_table import ADDRESS_TEXTS

ODD_VALUES = {
    IndicatorType.FILE_SHA256: ["ab" * 32, "AB" * 32, "ab " * 32, "xy" * 32, "ab" * 31, "é" * 64],
    IndicatorType.FILE_MD5: ["cd" * 16, "cd" * 17, ""],
    IndicatorType.IP_ADDRESS: ADDRESS_TEXTS,
    IndicatorType.DOMAIN_NAME: ["a.example", "a.example", "é.example", "x", ""],
    IndicatorType.URL: ["https://h/p", "http://h/p", "h/p", "a\nb://c", "ftp://x://y", ""],
}


def _same(left: Any, right: Any, where: str) -> None:
    """Deep equality of what a part is made of (arrays by dtype and content)."""
    if isinstance(left, np.ndarray):
        assert isinstance(right, np.ndarray), where
        assert left.dtype == right.dtype, where
        assert np.array_equal(left, right), where
    elif isinstance(left, Bitset):
        assert left.bits == right.bits, where
        _same(left.words, right.words, where)
    elif isinstance(left, TextColumn):
        assert left.tolist() == right.tolist(), where
    elif dataclasses.is_dataclass(left) and not isinstance(left, type):
        for item in dataclasses.fields(left):
            if item.init:
                _same(getattr(left, item.name), getattr(right, item.name), f"{where}.{item.name}")
    elif isinstance(left, dict):
        assert list(left) == list(right), where
        for key in left:
            _same(left[key], right[key], f"{where}[{key}]")
    elif isinstance(left, bytes | memoryview):
        assert bytes(left) == bytes(right), where
    else:
        assert left == right, where


def _columnar(items: list[ListedIndicator]) -> PartData:
    builder = PartBuilder()
    if items:
        builder.add(listed_to_batch(items))
    return builder.finish()


@st.composite
def _odd_sets(draw: st.DrawFn) -> list[ListedIndicator]:
    """Indicators of every kind, some with values that do not compile."""
    count = draw(st.integers(0, 30))
    items = []
    for ident in range(1, count + 1):
        if draw(st.booleans()):
            items.append(draw(indicators(ident)))
            continue
        kind = draw(st.sampled_from(tuple(ODD_VALUES)))
        items.append(ind(ident, kind, draw(st.sampled_from(ODD_VALUES[kind]))))
    return items


@SETTINGS
@given(_odd_sets())
def test_the_listed_build_equals_the_columnar_build(items: list[ListedIndicator]) -> None:
    _same(listed_part_data(items), _columnar(items), "part")


SCRIPT = """
import sys
from datetime import UTC, datetime
from iocd.domain.decision import ListedIndicator
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.domain.types import Action, IndicatorType
from iocd.matching.index import build
from iocd.matching.single import decide_event
first = ListedIndicator(1, IndicatorType.DOMAIN_NAME, "evil.example", Action.BLOCK)
block = ListedIndicator(2, IndicatorType.IP_ADDRESS, "10.0.0.0/8", Action.AUDIT)
index = build([first], 1).apply([block])
assert list(index.indicators_of(IndicatorType.IP_ADDRESS)) == [block]
now = datetime.now(UTC)
seen = TelemetryEvent(now, EventKind.NETWORK, "d", domain="a.evil.example", remote_ip="10.1.2.3")
found = sorted(c.indicator.id for d in decide_event(index, seen) for c in d.candidates)
print(found, "pyarrow" in sys.modules)
"""


def test_an_index_compiles_changes_and_matches_without_pyarrow() -> None:
    """What the agent's process does with an index needs numpy only (pyarrow is not imported)."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["[1,", "2]", "False"]


def test_skipped_values_are_the_indicators_themselves() -> None:
    bad = ind(5, IndicatorType.FILE_SHA256, "not hex", Action.AUDIT, groups=("G1",))
    good = ind(6, IndicatorType.FILE_SHA256, "ab" * 32)
    data = listed_part_data([bad, good])
    assert data.skipped == [bad]
    assert data.ids.tolist() == [6]
