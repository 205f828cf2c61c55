"""Which stored events could match a set of indicators: vectorised column filters (both stores).

`HuntPlan.compile(indicators)` turns listed indicators into per-column tests; `plan.mask(table)`
evaluates them over a table holding (at least) `plan.columns`. The tests may over-select (URL
prefixes, many URLs by host), never under-select: the full matcher re-checks every row.

- Hashes and thumbprints: equality on the binary digest columns.
- IP addresses: equality on `remote_ip`; CIDR blocks: a range test on its 16 bytes read as two
  big-endian 64-bit halves (IPv4 as `::ffff:a.b.c.d`).
- Domains: `domain` or `sni` equal to the name or ending with "." + name.
- URLs: `url` starting with the indicator up to its query.
String columns may arrive dictionary-encoded (as Parquet reads them fastest); then the test runs on
the dictionary and is spread to the rows through the indices.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iocd.domain.decision import ListedIndicator
from iocd.domain.types import IndicatorType
from iocd.errors import InvalidInput

HASH_COLUMNS: dict[IndicatorType, str] = {
    IndicatorType.FILE_SHA256: "sha256",
    IndicatorType.FILE_SHA1: "sha1",
    IndicatorType.FILE_MD5: "md5",
    IndicatorType.CERTIFICATE_THUMBPRINT: "signer_thumbprint",
}
DOMAIN_COLUMNS = ("domain", "sni")
STRING_COLUMNS = ("domain", "sni", "url")
_FEW = 16
"""Up to this many names or URLs are tested one by one; more go through one set lookup."""
_MAPPED_V4 = b"\x00" * 10 + b"\xff\xff"


def ip_bytes(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    """The 16-byte form of `remote_ip` (IPv4 as an IPv4-mapped IPv6 address)."""
    if isinstance(address, ipaddress.IPv4Address):
        return _MAPPED_V4 + address.packed
    return address.packed


@dataclass
class HuntPlan:
    exact: dict[str, set[bytes]] = field(default_factory=dict)
    ip_ranges: list[tuple[int, int]] = field(default_factory=list)
    """Inclusive ranges of `remote_ip` as 128-bit integers."""
    domains: set[str] = field(default_factory=set)
    url_prefixes: set[str] = field(default_factory=set)

    @classmethod
    def compile(cls, indicators: Sequence[ListedIndicator]) -> HuntPlan:
        plan = cls()
        for indicator in indicators:
            try:
                plan._add(indicator)
            except ValueError as exc:
                raise InvalidInput(
                    "indicators", f"{indicator.indicator_type} {indicator.value!r}: {exc}"
                ) from None
        return plan

    def _add(self, indicator: ListedIndicator) -> None:
        kind, value = indicator.indicator_type, indicator.value
        if kind in HASH_COLUMNS:
            self.exact.setdefault(HASH_COLUMNS[kind], set()).add(bytes.fromhex(value))
        elif kind is IndicatorType.IP_ADDRESS:
            network = ipaddress.ip_network(value, strict=False)
            first, last = ip_bytes(network[0]), ip_bytes(network[-1])
            if first == last:
                self.exact.setdefault("remote_ip", set()).add(first)
            else:
                self.ip_ranges.append((int.from_bytes(first), int.from_bytes(last)))
        elif kind is IndicatorType.DOMAIN_NAME:
            self.domains.add(value.lower().rstrip("."))
        elif kind is IndicatorType.URL:
            self.url_prefixes.add(value.split("?", 1)[0].split("#", 1)[0])
        else:  # pragma: no cover - every IndicatorType is handled above
            raise ValueError("no telemetry column for this type")

    @property
    def empty(self) -> bool:
        return not (self.exact or self.ip_ranges or self.domains or self.url_prefixes)

    @property
    def columns(self) -> list[str]:
        """The columns `mask` reads."""
        names = list(self.exact)
        if self.ip_ranges and "remote_ip" not in names:
            names.append("remote_ip")
        if self.domains:
            names.extend(DOMAIN_COLUMNS)
        if self.url_prefixes:
            names.append("url")
        return names

    def mask(self, table: pa.Table) -> pa.BooleanArray:
        """True for each row that could match; never null."""
        result = np.zeros(table.num_rows, dtype=bool)
        for name, values in self.exact.items():
            result |= _per_chunk(table.column(name), partial(_equal_any, wanted=values))
        if self.ip_ranges:
            ranges = self.ip_ranges
            result |= _per_chunk(table.column("remote_ip"), lambda a: _in_ranges(a, ranges))
        if self.domains:
            for name in DOMAIN_COLUMNS:
                result |= _per_chunk(table.column(name), self._domain_mask)
        if self.url_prefixes:
            result |= _per_chunk(table.column("url"), self._url_mask)
        return pa.array(result, pa.bool_())

    def _domain_mask(self, values: pa.Array) -> np.ndarray:
        return _on_strings(values, self._domain_values)

    def _domain_values(self, values: pa.Array) -> pa.Array:
        if len(self.domains) <= _FEW:
            hit = pa.array(np.zeros(len(values), dtype=bool))
            for name in self.domains:
                # a scalar, not a str: pyarrow converts a str through an import on each call
                hit = pc.or_(hit, pc.equal(values, pa.scalar(name, pa.string())))
                hit = pc.or_(hit, pc.ends_with(values, "." + name))
            return hit
        wanted = pa.array(sorted(self.domains), pa.string())
        hit = pc.is_in(values, value_set=wanted)
        current = values
        # Strip one leading label per round until no name has a dot left: each round tests
        # every name's next parent domain against the set.
        while len(current) and pc.any(pc.match_substring(current, ".")).as_py():
            current = pc.replace_substring_regex(current, r"^[^.]*\.", "", max_replacements=1)
            hit = pc.or_(hit, pc.is_in(current, value_set=wanted))
        return hit

    def _url_mask(self, values: pa.Array) -> np.ndarray:
        return _on_strings(values, self._url_values)

    def _url_values(self, values: pa.Array) -> pa.Array:
        if len(self.url_prefixes) <= _FEW:
            hit = pa.array(np.zeros(len(values), dtype=bool))
            for prefix in self.url_prefixes:
                hit = pc.or_(hit, pc.starts_with(values, prefix))
            return hit
        origins = pa.array(sorted({_origin(p) for p in self.url_prefixes}), pa.string())
        return pc.is_in(_origins(values), value_set=origins)


_ORIGIN = r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#]*).*$"


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    for stop in "/?#":
        rest = rest.split(stop, 1)[0]
    return f"{scheme}://{rest}"


def _origins(values: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(values, _ORIGIN, r"\1")


def _per_chunk(column: pa.ChunkedArray, test: Callable[[pa.Array], np.ndarray]) -> np.ndarray:
    if column.num_chunks == 1:
        return test(column.chunk(0))
    if column.num_chunks == 0:
        return np.zeros(0, dtype=bool)
    return np.concatenate([test(chunk) for chunk in column.chunks])


def _as_numpy(mask: pa.Array) -> np.ndarray:
    if mask.null_count:
        mask = pc.coalesce(mask, False)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _on_strings(values: pa.Array, test: Callable[[pa.Array], pa.Array]) -> np.ndarray:
    if isinstance(values, pa.DictionaryArray):
        if len(values.dictionary) == 0:
            return np.zeros(len(values), dtype=bool)
        per_entry = pc.fill_null(test(values.dictionary), False)
        return _as_numpy(pc.take(per_entry, values.indices))
    return _as_numpy(test(values))


def _equal_any(values: pa.Array, wanted: set[bytes]) -> np.ndarray:
    if len(wanted) == 1:
        (only,) = wanted
        return _as_numpy(pc.equal(values, pa.scalar(only, values.type)))
    return _as_numpy(pc.is_in(values, value_set=pa.array(sorted(wanted), values.type)))


def _in_ranges(values: pa.Array, ranges: list[tuple[int, int]]) -> np.ndarray:
    """Range test on the 16-byte addresses without copying them: two strided big-endian views."""
    data = values.buffers()[1]
    count = len(values)
    if data is None or count == 0:
        return np.zeros(count, dtype=bool)
    start = values.offset * 16
    high = np.ndarray((count,), dtype=">u8", buffer=data, offset=start, strides=(16,))
    low = np.ndarray((count,), dtype=">u8", buffer=data, offset=start + 8, strides=(16,))
    hit = np.zeros(count, dtype=bool)
    for first, last in ranges:
        first_high, first_low = np.uint64(first >> 64), np.uint64(first & (2**64 - 1))
        last_high, last_low = np.uint64(last >> 64), np.uint64(last & (2**64 - 1))
        if first_high == last_high:
            hit |= (high == first_high) & (low >= first_low) & (low <= last_low)
        else:
            above = (high > first_high) | ((high == first_high) & (low >= first_low))
            below = (high < last_high) | ((high == last_high) & (low <= last_low))
            hit |= above & below
    if values.null_count:
        hit &= np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return hit
