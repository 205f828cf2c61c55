"""The name tables without a Python dict: look-ups by hash and bytes (one and many), names that
share a hash, the byte forms of the match keys, and the compact columns of a part."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.types import Action, IndicatorType
from iocd.matching.addresses import ip_packed
from iocd.matching.index import build, build_from_batches
from iocd.matching.names import NAME_PRIME, build_names, name_hash, name_prefix
from iocd.matching.part_build import PartBuilder
from iocd.matching.single import domain_byte_keys, domain_keys, url_byte_keys, url_keys
from iocd.matching.snapshot import listed_to_batch
from tests.matching.helpers import both, event, ind

# Pairs of names with the same hash (found by search; the tests check that they still collide).
DOMAIN_TWINS = (("gaqybibog.com", "yaffiokms.com"), ("afybcnndv.com", "ilcnsrmeo.com"))
URL_TWINS = (("zqecexlhw.example/a", "mytcpclxk.example/a"),)


def test_the_twins_share_a_hash() -> None:
    for a, b in DOMAIN_TWINS:
        assert a != b and name_hash(a.encode(), "tail") == name_hash(b.encode(), "tail")
    for a, b in URL_TWINS:
        assert a != b and name_hash(a.encode(), "head") == name_hash(b.encode(), "head")


@pytest.mark.parametrize("window", ["tail", "head"])
def test_every_name_is_found_and_others_are_not(window: str) -> None:
    names = [
        "a.io",
        "example.com",
        "sub.example.com",
        "x",
        "",
        "bücher.example",
        *(n for pair in DOMAIN_TWINS + URL_TWINS for n in pair),
    ]
    table, order = build_names([*names, "example.com"], window, 0)  # a repeat: one name, 2 rows
    assert len(table) == len(names)
    assert table.names() == names
    assert [table.name(v) for v in range(len(names))] == names
    assert order.tolist() == [0, 1, len(names), *range(2, len(names))]
    assert table.starts[1:3].tolist() == [1, 3]
    for value, name in enumerate(names):
        assert table.find_one(name.encode()) == value
    for other in ("b.io", "example.org", "xample.com", "a.i", "gaqybibog.co"):
        assert table.find_one(other.encode()) == -1
    keys = [n.encode() for n in names if n] + [b"nope.example", b"a.i"]
    found = table.find_keys(keys)
    assert [(keys[at], names[v]) for at, v in found] == [(n.encode(), n) for n in names if n]


def test_names_that_share_a_hash_are_told_apart_by_their_bytes() -> None:
    only_one = DOMAIN_TWINS[0][0]
    table, _ = build_names([only_one, *DOMAIN_TWINS[1]], "tail", 0)
    assert table.find_one(only_one.encode()) == 0
    assert table.find_one(DOMAIN_TWINS[0][1].encode()) == -1  # same hash, not a name
    assert table.find_one(DOMAIN_TWINS[1][0].encode()) == 1
    assert table.find_one(DOMAIN_TWINS[1][1].encode()) == 2
    # The batch look-up gives every name of a hash; the bytes decide.
    wanted = np.array([name_hash(n.encode(), "tail") for n in DOMAIN_TWINS[1]], np.uint64)
    positions, values = table.find_hashes(wanted)
    assert sorted(zip(positions.tolist(), values.tolist(), strict=True)) == [
        (0, 1),
        (0, 2),
        (1, 1),
        (1, 2),
    ]


def test_twins_listed_together_each_match_their_own_indicator() -> None:
    items = [
        ind(1, IndicatorType.DOMAIN_NAME, DOMAIN_TWINS[0][0]),
        ind(2, IndicatorType.DOMAIN_NAME, DOMAIN_TWINS[0][1], Action.AUDIT),
        ind(3, IndicatorType.DOMAIN_NAME, DOMAIN_TWINS[1][0]),
        ind(4, IndicatorType.URL, "https://" + URL_TWINS[0][0]),
        ind(5, IndicatorType.URL, "http://" + URL_TWINS[0][1], Action.WARN),
    ]
    events = [
        event(domain=DOMAIN_TWINS[0][0]),
        event(domain="www." + DOMAIN_TWINS[0][1]),
        event(sni=DOMAIN_TWINS[1][1]),  # shares a hash with 3, is not listed
        event(url="https://" + URL_TWINS[0][0] + "/deeper"),
        event(url="https://" + URL_TWINS[0][1]),
        event(url="https://" + URL_TWINS[0][1] + "?q=1"),
    ]
    for index in (build(items, 1), build_from_batches([listed_to_batch(items)], 1)):
        assert index.base.domains is not None
        found = both(index, events)  # the single-event and batch matchers agree
        matched = {row: {c[0] for c in candidates} for (row, _), (*_, candidates) in found.items()}
        assert matched == {0: {1}, 1: {2}, 3: {4}, 4: {5}, 5: {5}}
        assert {index.get(i).value for i in (1, 2, 4, 5)} == {  # type: ignore[union-attr]
            items[0].value,
            items[1].value,
            items[3].value,
            items[4].value,
        }


def test_the_running_sum_gives_the_hash_of_any_suffix_and_prefix() -> None:
    text = "www.bücher.example.com/path?q=1".encode()
    data = np.frombuffer(text, np.uint8)
    position = np.arange(len(data), dtype=np.int64)
    tail = name_prefix(data, len(data) - 1 - position)
    head = name_prefix(data, position)
    for cut in range(len(text) + 1):
        suffix = (int(tail[len(text)]) - int(tail[cut])) % NAME_PRIME
        prefix = (int(head[cut]) - int(head[0])) % NAME_PRIME
        assert suffix == name_hash(text[cut:], "tail")
        assert prefix == name_hash(text[:cut], "head")


texts = st.text(st.sampled_from("ab.:/?é-1"), max_size=24)


@given(texts)
def test_byte_keys_are_the_text_keys_encoded(text: str) -> None:
    keys, kinds = domain_byte_keys(text)
    assert list(zip(keys, kinds, strict=True)) == [(k.encode(), m) for k, m in domain_keys(text)]
    assert url_byte_keys(text) == [k.encode() for k in url_keys(text)]


def test_columns_are_narrow_and_wide_ids_still_work() -> None:
    small = build([ind(1, IndicatorType.DOMAIN_NAME, "a.example")], 1).base
    assert small.ids.dtype == np.int32 and small.sequences.dtype == np.int32
    assert small.scopes.dtype == np.uint8
    big_id = 2**40 + 5
    items = [
        ind(big_id, IndicatorType.DOMAIN_NAME, "b.example"),
        ind(7, IndicatorType.DOMAIN_NAME, "c.example", groups=("Servers",)),
    ]
    index = build(items, 1)
    assert index.base.ids.dtype == np.int64
    assert index.get(big_id) == items[0]
    assert index.get(7) == items[1]
    assert index.get(2**40) is None
    assert sorted(index.indicators(), key=lambda i: i.id) == sorted(items, key=lambda i: i.id)


ADDRESS_TEXTS = [
    "10.0.0.1",
    "0.0.0.0",  # noqa: S104 (an address text, not a binding)
    "255.255.255.255",
    "256.1.1.1",
    "01.2.3.4",
    "1.2.3",
    "1.2.3.4.5",
    " 1.2.3.4",
    "1.2.3.4\n",
    "1..2.3",
    "::1",
    "::ffff:1.2.3.4",
    "2001:db8::1",
    "10.0.0.0/8",
    "10.0.0.0/33",
    "10.0.0.0/",
    "1.2.3.4/x",
    "fe80::/10",
    "",
    "not an address",
    "١.٢.٣.٤",
]


def test_addresses_compile_as_ip_packed_reads_them() -> None:
    items = [ind(n + 1, IndicatorType.IP_ADDRESS, text) for n, text in enumerate(ADDRESS_TEXTS)]
    builder = PartBuilder()
    builder.add(listed_to_batch(items))
    data = builder.finish()
    skipped = {i.value for i in data.skipped}
    for text in ADDRESS_TEXTS:
        packed = ip_packed(text) if "/" not in text else None
        compiles = packed is not None or ("/" in text and text not in skipped)
        assert (text not in skipped) == compiles, text
        if packed is not None:
            assert data.ip is not None and data.ip.find_one(packed[0]) >= 0
    kept = pa.array([t for t in ADDRESS_TEXTS if t not in skipped])
    assert sorted(data.ip_texts.tolist()) == sorted(kept.to_pylist())


DOMAIN_TABLE, _ = build_names(
    ["ab.a", "b.a", "a.b.a", "é.a", "bb.ab.a", ".a", "a.", "aaaaaaaa.b", "ab.aaaaaaaa.b"], "tail", 0
)


@given(texts)
def test_find_domain_looks_up_the_domain_keys(text: str) -> None:
    keys, kinds = domain_byte_keys(text)
    expected = [(v, kinds[at] != kinds[0]) for at, v in DOMAIN_TABLE.find_keys(keys)]
    assert DOMAIN_TABLE.find_domain(text.encode()) == expected
