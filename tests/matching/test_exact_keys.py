"""The agent's one-value look-ups agree with the batch's arrays: `scalar_key` (read with
`struct`) is the key `strided_keys` computes for the same bytes, a table's `rows` (read
through a memoryview) are the rows its `starts` array gives, and the batch's remembered
one-candidate outcomes are the agent's decisions."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.decision import Enforcement
from iocd.domain.types import Action, IndicatorType
from iocd.matching.batch import match_batch
from iocd.matching.columns import events_to_batch
from iocd.matching.compile import scalar_key, strided_keys
from iocd.matching.index import build
from iocd.matching.single import decide_event
from tests.matching.helpers import event, ind


@given(st.integers(min_value=8, max_value=40).flatmap(lambda w: st.binary(min_size=w, max_size=w)))
def test_scalar_key_is_the_strided_key(value: bytes) -> None:
    (key,) = strided_keys(value, 0, 1, len(value)).tolist()
    assert scalar_key(value) == key
    assert 0 <= key < 1 << 64


def test_rows_are_the_starts_of_each_value() -> None:
    indicators = [
        ind(1, IndicatorType.IP_ADDRESS, "10.0.0.1", Action.BLOCK),
        ind(2, IndicatorType.IP_ADDRESS, "10.0.0.1", Action.AUDIT, groups=("Servers",)),
        ind(3, IndicatorType.IP_ADDRESS, "10.0.0.0/8", Action.BLOCK),
        ind(4, IndicatorType.IP_ADDRESS, "10.0.0.0/24", Action.WARN),
        ind(5, IndicatorType.DOMAIN_NAME, "example.com", Action.BLOCK),
        ind(6, IndicatorType.URL, "https://example.com/a", Action.BLOCK),
    ]
    part = build(indicators, 6).base
    tables = [part.ip, part.cidrs, part.domains, part.urls]
    for table in tables:
        assert table is not None
        starts = np.asarray(table.starts).tolist()
        for value in range(len(starts) - 1):
            expected = range(table.row0 + starts[value], table.row0 + starts[value + 1])
            assert table.rows(value) == expected
    assert part.ip is not None and len(part.ip.rows(0)) == 2  # both indicators on 10.0.0.1


def test_one_batch_decides_each_signature_and_group_as_the_agent_does() -> None:
    """The batch remembers a one-candidate outcome without the device group or more of the
    signature than whether it is trusted: every combination still gets its own decision."""
    sha = "ab" * 32
    index = build(
        [
            ind(1, IndicatorType.FILE_SHA256, sha, Action.BLOCK),
            ind(2, IndicatorType.DOMAIN_NAME, "bad.example", Action.WARN, groups=("Servers",)),
        ],
        2,
    )
    events = [
        event(sha256=sha, signature_valid=valid, signer_trusted=trusted, device_group=group)
        for valid in (None, False, True)
        for trusted in (None, False, True)
        for group in (None, "Servers", "Laptops")
    ] + [event(domain="bad.example", device_group=g) for g in (None, "Servers", "Laptops")]
    batch = list(match_batch(index, events_to_batch(events)))
    assert len(batch) == 27 + 1  # the domain is scoped to Servers only
    for row, found in batch:
        (agent,) = decide_event(index, events[row])
        assert found.decision == agent.decision
    decided = {events[row].signature_valid and events[row].signer_trusted: d for row, d in batch}
    assert decided[True].decision.enforcement is Enforcement.NONE  # trusted: alerted instead
    assert decided[False].decision.enforcement is Enforcement.BLOCK


def test_a_digest_of_another_width_matches_nothing() -> None:
    sha = "ab" * 32
    index = build([ind(1, IndicatorType.FILE_SHA256, sha, Action.BLOCK)], 1)
    for text in ("ab", "ab" * 7, "ab" * 20, "ab" * 33, sha[:-2]):
        assert decide_event(index, event(sha256=text)) == []
    assert [d.decision.enforcement for d in decide_event(index, event(sha256=sha))] == [
        Enforcement.BLOCK
    ]
