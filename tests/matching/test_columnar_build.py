"""Properties: the columnar build (Arrow batches, batch by batch) compiles the same index as
the object build, whatever the batch boundaries; values that do not compile are kept aside."""

from __future__ import annotations

import itertools

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.decision import ListedIndicator
from iocd.domain.telemetry import TelemetryEvent
from iocd.domain.types import Action, IndicatorType
from iocd.matching.index import Removal, build, build_from_batches
from iocd.matching.part_build import hex_rows
from iocd.matching.snapshot import batch_listed, listed_to_batch
from tests.matching.helpers import both, ind
from tests.matching.test_matching_agree import SETTINGS, change_lists, events, index_sets


def _batches(items: list[ListedIndicator], cuts: list[int]) -> list[pa.RecordBatch]:
    bounds = sorted({0, len(items), *(c % (len(items) + 1) for c in cuts)})
    return [listed_to_batch(items[a:b]) for a, b in itertools.pairwise(bounds)]


@SETTINGS
@given(index_sets(40), st.lists(st.integers(0, 40), max_size=4), st.lists(events, max_size=25))
def test_the_columnar_build_equals_the_object_build(
    listed: list[ListedIndicator], cuts: list[int], batch: list[TelemetryEvent]
) -> None:
    columnar = build_from_batches(_batches(listed, cuts), 1)
    objects = build(listed, 1)
    assert sorted(columnar.indicators(), key=lambda i: i.id) == sorted(listed, key=lambda i: i.id)
    assert both(columnar, batch) == both(objects, batch)


@SETTINGS
@given(index_sets(), st.lists(change_lists(), max_size=3), st.lists(events, max_size=20))
def test_changes_folded_into_a_columnar_build_equal_a_rebuild(
    listed: list[ListedIndicator],
    rounds: list[list[ListedIndicator | Removal]],
    batch: list[TelemetryEvent],
) -> None:
    index = build_from_batches([listed_to_batch(listed)], 1, compact_past=4)
    expected = {i.id: i for i in listed}
    for changes in rounds:
        index = index.apply(changes)
        for change in changes:
            if isinstance(change, Removal):
                expected.pop(change.id, None)
            else:
                expected[change.id] = change
    assert sorted(index.indicators(), key=lambda i: i.id) == sorted(
        expected.values(), key=lambda i: i.id
    )
    rebuilt = build_from_batches([listed_to_batch(list(expected.values()))], 1)
    assert both(index, batch) == both(rebuilt, batch)


def test_values_that_do_not_compile_are_skipped_and_kept() -> None:
    sha = "ab" * 32
    items = [
        ind(1, IndicatorType.FILE_SHA256, sha.upper()),
        ind(2, IndicatorType.FILE_SHA256, "zz" * 32),
        ind(3, IndicatorType.FILE_MD5, "ab" * 15),
        ind(4, IndicatorType.IP_ADDRESS, "10.0.0.999"),
        ind(5, IndicatorType.IP_ADDRESS, "10.0.0.0/40"),
        ind(6, IndicatorType.IP_ADDRESS, "10.0.0.1"),
        ind(7, IndicatorType.URL, "https://a.example/x", Action.ALLOWED),
    ]
    index = build_from_batches([listed_to_batch(items[:3]), listed_to_batch(items[3:])], 7)
    assert {i.id for i in index.base.skipped} == {2, 3, 4, 5}
    assert len(index) == 3
    assert index.get(1) == items[0].__class__(**{**_fields(items[0]), "value": sha})
    assert index.get(7) == items[6]


def test_hex_rows_decodes_like_bytes_fromhex() -> None:
    texts = pa.array(["0a" * 4, "0A" * 4, "0a 0a 0a 0a", "0g" * 4, "0a" * 3])
    values, good = hex_rows(texts, 4)
    assert good.tolist() == [True, True, True, False, False]
    assert [bytes(v) for v in values] == [b"\n" * 4] * 3


def _fields(item: ListedIndicator) -> dict[str, object]:
    return {name: getattr(item, name) for name in item.__slots__}


@SETTINGS
@given(index_sets(40), st.lists(change_lists(), max_size=2))
def test_an_index_writes_back_the_batches_it_was_built_from(
    listed: list[ListedIndicator], rounds: list[list[ListedIndicator | Removal]]
) -> None:
    """`to_batches` (compaction, the agent's cache rewrite) gives every live indicator back,
    field for field, from the columns: base rows less tombstones, then the overlay."""
    index = build(listed, 1, compact_past=10_000)
    for changes in rounds:
        index = index.apply(changes)
    written = [i for batch in index.to_batches() for i in batch_listed(batch)]
    assert sorted(written, key=lambda i: i.id) == sorted(index.indicators(), key=lambda i: i.id)
    assert len(written) == len(index)
