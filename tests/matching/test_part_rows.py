"""Properties: the indicators of many rows made at once (matching.part_rows) are those
`Part.fresh` makes one row at a time, in the order asked, whatever the rows; and an index that
made them ahead (`CompiledIndex.prepare`) answers the same candidates and decisions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.telemetry import TelemetryEvent
from iocd.domain.types import Action, IndicatorType
from iocd.matching.index import Removal, build, build_from_batches
from iocd.matching.part_rows import listed_rows, row_values
from iocd.matching.snapshot import listed_to_batch
from tests.matching.helpers import both, ind
from tests.matching.test_matching_agree import SETTINGS, change_lists, events, index_sets


@SETTINGS
@given(index_sets(40), st.lists(st.integers(0, 10_000), max_size=60))
def test_rows_made_at_once_are_the_rows_made_one_by_one(
    listed: list[ListedIndicator], picks: list[int]
) -> None:
    for index in (build(listed, 1), build_from_batches([listed_to_batch(listed)], 1)):
        part = index.base
        every = np.arange(part.size, dtype=np.int64)
        assert listed_rows(part, every) == [part.fresh(row) for row in every.tolist()]
        assert row_values(part, every) == [part.value_of(row) for row in every.tolist()]
        if part.size:
            rows = np.array([p % part.size for p in picks], dtype=np.int64)  # repeats, any order
            assert listed_rows(part, rows) == [part.fresh(row) for row in rows.tolist()]


def test_every_kind_of_value_and_flag() -> None:
    t = IndicatorType
    listed = [
        ind(1, t.FILE_SHA256, "ab" * 32, groups=("Lab",)),
        ind(2, t.FILE_SHA1, "cd" * 20, action=Action.ALLOWED),
        replace(ind(3, t.FILE_MD5, "ef" * 16), overridden=True),
        replace(ind(4, t.CERTIFICATE_THUMBPRINT, "01" * 20), generate_alert=False),
        ind(5, t.IP_ADDRESS, "203.0.113.7", authority=Authority.GROUP),
        ind(6, t.IP_ADDRESS, "2001:db8::1"),
        ind(7, t.IP_ADDRESS, "198.51.100.0/24"),
        ind(8, t.DOMAIN_NAME, "example.org"),
        ind(9, t.DOMAIN_NAME, "bücher.example"),
        ind(10, t.URL, "https://example.org/a/b?q=1"),
        ind(11, t.URL, "http://example.net/x"),
    ]
    part = build(listed, 1).base
    made = listed_rows(part, np.arange(part.size, dtype=np.int64)[::-1].copy())
    assert sorted(made, key=lambda i: i.id) == listed
    assert made == [part.fresh(row) for row in reversed(range(part.size))]


@SETTINGS
@given(index_sets(), change_lists(), st.lists(events, max_size=25))
def test_an_index_that_made_its_rows_ahead_decides_the_same(
    listed: list[ListedIndicator],
    changes: list[ListedIndicator | Removal],
    batch: list[TelemetryEvent],
) -> None:
    ahead = build(listed, 1, compact_past=1_000).apply(changes)
    rows = ahead.base.size + (ahead.overlay.size if ahead.overlay is not None else 0)
    ahead.prepare(np.arange(rows, dtype=np.int64))
    one_by_one = build(listed, 1, compact_past=1_000).apply(changes)
    assert both(ahead, batch) == both(one_by_one, batch)
    for row in range(rows):
        assert ahead.listed(row) == one_by_one.listed(row)
