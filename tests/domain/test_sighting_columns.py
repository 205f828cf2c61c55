"""Sightings as columns: made from sightings one by one they merge per pair, read back as the
same rows, and total per indicator as adding them up does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.devices import Sighting, SightingColumns, aggregate_sightings

T0 = datetime(2030, 1, 1, tzinfo=UTC)

sightings = st.lists(
    st.builds(
        lambda i, d, a, b, c: Sighting(
            i, d, T0 + timedelta(seconds=min(a, b)), T0 + timedelta(seconds=max(a, b)), c
        ),
        st.integers(1, 5),
        st.sampled_from(["d1", "d2", "é"]),
        st.integers(-10_000, 10_000),
        st.integers(-10_000, 10_000),
        st.integers(1, 9),
    ),
    max_size=25,
)


@given(sightings)
def test_columns_merge_per_pair_and_total_per_indicator(given_: list[Sighting]) -> None:
    columns = SightingColumns.of(given_)
    assert columns.rows() == aggregate_sightings(given_)
    ids, counts, first, last = columns.totals()
    assert ids == sorted({s.indicator_id for s in given_})
    for i, count, start, end in zip(ids, counts, first, last, strict=True):
        mine = [s for s in given_ if s.indicator_id == i]
        assert count == sum(s.count for s in mine)
        assert start == min(int(s.first_seen.timestamp()) * 1_000_000 for s in mine)
        assert end == max(int(s.last_seen.timestamp()) * 1_000_000 for s in mine)
