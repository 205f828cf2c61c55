"""The policy wire format: entry hashes, XOR digests (incremental == from scratch), snapshots
and deltas round-trip."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.types import Action, IndicatorType
from iocd.matching.ledger import COMPACT_PAST, DigestLedger
from iocd.matching.snapshot import (
    EMPTY_DIGEST,
    PolicyUpdate,
    apply_update,
    batch_hashes,
    combine,
    encode_snapshot,
    entry_hash,
    entry_line,
    listed_to_batch,
    snapshot_digest,
    snapshot_listed,
    update_from_wire,
    update_to_wire,
    xor_digest,
)

GROUPS = ("Servers", "Laptops", "Lab")

entries = st.builds(
    ListedIndicator,
    id=st.integers(1, 60),
    indicator_type=st.sampled_from(list(IndicatorType)),
    value=st.text("abcdef0123456789.:/", min_size=1, max_size=20),
    action=st.sampled_from(list(Action)),
    groups=st.frozensets(st.sampled_from(GROUPS), max_size=2),
    authority=st.sampled_from(list(Authority)),
    overridden=st.booleans(),
    generate_alert=st.booleans(),
    sequence=st.integers(0, 10_000),
)
changes = st.lists(st.one_of(entries, st.integers(1, 60)), max_size=40)


def view_digest(view: dict[int, ListedIndicator], group: str) -> str:
    return xor_digest(entry_hash(e) for e in view.values() if e.applies_to(group))


def test_entry_line_is_the_documented_text() -> None:
    entry = ListedIndicator(
        7, IndicatorType.URL, "http://x.test/a", Action.WARN, frozenset({"b", "a"}),
        Authority.GROUP, True, False, 3,
    )  # fmt: skip
    line = "7|Url|http://x.test/a|Warn|a,b|group|1|0"
    assert entry_line(entry) == line
    assert entry_hash(entry) == hashlib.sha256(line.encode()).digest()
    assert xor_digest([]) == EMPTY_DIGEST
    assert xor_digest([entry_hash(entry)]) == entry_hash(entry).hex()
    assert combine(entry_hash(entry).hex(), entry_hash(entry).hex()) == EMPTY_DIGEST


@settings(max_examples=60, deadline=None)
@given(st.lists(entries, max_size=30, unique_by=lambda e: e.id))
def test_snapshot_round_trip_and_columnar_hashes(items: list[ListedIndicator]) -> None:
    items = sorted(items, key=lambda e: e.id)
    batch = listed_to_batch(items)
    assert batch_hashes(batch) == b"".join(entry_hash(e) for e in items)
    data = encode_snapshot([batch.slice(0, 5), batch.slice(5)])
    assert list(snapshot_listed(data)) == items
    assert snapshot_digest(data) == xor_digest(entry_hash(e) for e in items)


@settings(max_examples=80, deadline=None)
@given(st.lists(entries, max_size=30, unique_by=lambda e: e.id), changes, changes)
def test_incremental_digest_equals_digest_from_scratch(
    start: list[ListedIndicator], first: list[object], second: list[object]
) -> None:
    view = {e.id: e for e in start}
    ledger = DigestLedger.from_batches([listed_to_batch(sorted(start, key=lambda e: e.id))], 1)
    for sequence, batch in enumerate((first, second), start=2):
        upserts = [c for c in batch if isinstance(c, ListedIndicator)]
        removals = [c for c in batch if isinstance(c, int)]
        # removals first, then upserts (the ledger's order): the last upsert of an id wins
        for r in removals:
            view.pop(r, None)
        for u in upserts:
            view[u.id] = u
        ledger.apply(upserts, removals, sequence)
        for group in (*GROUPS, "Ungrouped devices"):
            assert ledger.digest(group) == view_digest(view, group)
        assert len(ledger) == len(view)


def test_ledger_compacts_without_changing_digests(monkeypatch: object) -> None:
    import iocd.matching.ledger as module

    items = [
        ListedIndicator(i, IndicatorType.FILE_MD5, f"{i:032x}", Action.BLOCK,
                        frozenset({"Lab"}) if i % 3 == 0 else frozenset())
        for i in range(1, 50)
    ]  # fmt: skip
    ledger = DigestLedger.from_batches([listed_to_batch(items)], 1)
    setattr(module, "COMPACT_PAST", 5)  # noqa: B010
    try:
        updated = [ListedIndicator(i, IndicatorType.FILE_MD5, f"{i:032x}", Action.AUDIT)
                   for i in range(1, 20)]  # fmt: skip
        ledger.apply(updated, [30, 33, 99], 2)
    finally:
        setattr(module, "COMPACT_PAST", COMPACT_PAST)  # noqa: B010
    view = {e.id: e for e in items}
    for i in (30, 33):
        view.pop(i)
    view.update({e.id: e for e in updated})
    assert ledger.digest("Lab") == view_digest(view, "Lab")
    assert ledger.digest("Other") == view_digest(view, "Other")


@given(st.lists(entries, max_size=5), st.lists(st.integers(1, 99), max_size=5))
def test_delta_wire_round_trip(upserts: list[ListedIndicator], removals: list[int]) -> None:
    update = PolicyUpdate("delta", 9, "ab" * 32, tuple(upserts), tuple(removals))
    assert update_from_wire(update_to_wire(update)) == update
    assert update_from_wire(update_to_wire(PolicyUpdate("unchanged", 4))).kind == "unchanged"
    view = apply_update({}, update)
    assert set(view) == {u.id for u in upserts}
