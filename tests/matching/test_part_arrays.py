"""A compiled part saved as arrays and read back matches exactly as the part it was made from
(every table: hashes, certificates, addresses, CIDRs v4 and v6, domains, URLs, scopes, and the
values that did not compile)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.decision import ListedIndicator
from iocd.domain.telemetry import TelemetryEvent
from iocd.domain.types import IndicatorType
from iocd.matching.index import CompiledIndex, Part, build
from iocd.matching.part_arrays import part_from_arrays, part_to_arrays
from tests.matching.helpers import both, event, ind
from tests.matching.test_matching_agree import SETTINGS, events, index_sets


def _through_a_file(part: Part) -> Part:
    arrays, meta = part_to_arrays(part)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as archive:
        loaded = {name: archive[name] for name in archive.files}
    return part_from_arrays(loaded, meta)


def _sorted(index: CompiledIndex) -> list[ListedIndicator]:
    return sorted(index.indicators(), key=lambda i: i.id)


@SETTINGS
@given(index_sets(40), st.lists(events, max_size=25))
def test_a_part_read_back_matches_as_the_original(
    listed: list[ListedIndicator], batch: list[TelemetryEvent]
) -> None:
    original = build(listed, 3)
    again = CompiledIndex(_through_a_file(original.base), 3)
    assert _sorted(again) == _sorted(original)
    assert again.base.skipped == original.base.skipped
    assert both(again, batch) == both(original, batch)


def test_every_table_kind_survives_including_ipv6_blocks_and_skipped_values() -> None:
    items = [
        ind(1, IndicatorType.FILE_SHA256, "ab" * 32),
        ind(2, IndicatorType.FILE_SHA1, "cd" * 20),
        ind(3, IndicatorType.FILE_MD5, "ef" * 16),
        ind(4, IndicatorType.CERTIFICATE_THUMBPRINT, "12" * 20),
        ind(5, IndicatorType.IP_ADDRESS, "203.0.113.7"),
        ind(6, IndicatorType.IP_ADDRESS, "198.51.100.0/24", groups=("Servers",)),
        ind(7, IndicatorType.IP_ADDRESS, "2001:db8::/32"),
        ind(8, IndicatorType.IP_ADDRESS, "2001:db8::5"),
        ind(9, IndicatorType.DOMAIN_NAME, "evil.example"),
        ind(10, IndicatorType.URL, "https://bad.example/path/x?q=1"),
        ind(11, IndicatorType.FILE_SHA256, "zz" * 32),  # does not compile: kept aside
    ]
    original = build(items, 11)
    again = CompiledIndex(_through_a_file(original.base), 11)
    probes = [
        event(sha256="ab" * 32),
        event(sha1="cd" * 20, signer_thumbprint="12" * 20),
        event(md5="ef" * 16),
        event(remote_ip="203.0.113.7"),
        event(remote_ip="198.51.100.9", device_group="Servers"),
        event(remote_ip="2001:db8:1::1"),
        event(remote_ip="2001:db8::5"),
        event(domain="a.b.evil.example"),
        event(url="https://bad.example/path/x?q=1"),
    ]
    assert both(again, probes) == both(original, probes)
    assert len(both(original, probes)) == len(probes)  # every probe matched something
    assert [i.id for i in again.base.skipped] == [11]


def test_a_part_of_another_format_is_refused() -> None:
    arrays, meta = part_to_arrays(build([ind(1, IndicatorType.DOMAIN_NAME, "a.example")], 1).base)
    broken: dict[str, Any] = {**meta, "format": 0}
    with pytest.raises(ValueError, match="format"):
        part_from_arrays(arrays, broken)
