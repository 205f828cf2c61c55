"""Guardrails on the write path (SPEC section 3): refuse a blocking indicator on something benign.

`refusal_reason(fields, known_benign)` answers None when the write may go ahead, or one precise,
human sentence saying what the indicator would cut off. The service turns a reason into
`GuardrailRefused` unless the caller overrides it with a justification.

Invariants:
- Only actions that block (`Action.blocks`: Warn, Block, BlockAndRemediate) are ever refused;
  Audit and Allowed never are, whatever the value.
- Documentation values (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20,
  example.com/.net/.org and the .example, .test and .invalid names) are never refused: examples and
  tests use them, and some reference lists carry them.
- Built-in rules (pure, no data files) run first; then the reference data (`KnownBenignLookup`).
- Pure and total: no I/O, and no exception for any string value (a malformed value is the
  normaliser's business, not ours: it simply matches no rule).

The helpers `parse_ip_span` and `site_host` are shared with the reference adapters so that IP and
URL semantics live in one place.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from functools import lru_cache
from typing import NamedTuple, Protocol

from iocd.domain.indicator import IndicatorFields
from iocd.domain.types import Action, IndicatorType

__all__ = [
    "KnownBenignLookup",
    "builtin_reason",
    "is_documentation_domain",
    "parse_ip_span",
    "refusal_reason",
    "site_host",
]


class KnownBenignLookup(Protocol):
    """Reference data of things known to be benign (same shape as services.ports.KnownBenign)."""

    def reason(self, indicator_type: IndicatorType, value: str) -> str | None:
        """Why the canonical value is known benign, or None."""
        ...


IpSpan = tuple[int, int, int]
"""(IP version, first address, last address) as integers; a single address has first == last."""

_V4_BITS, _V6_BITS = 32, 128
_V4_MAPPED = 0xFFFF << 32  # ::ffff:0:0/96
_NAT64 = 0x0064FF9B << 96  # 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052)
_LOW32 = 0xFFFFFFFF
MIN_PREFIX = {4: 8, 6: 16}
"""A block wider than this (a shorter prefix) is surely a mistake."""


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(r"\.".join([_OCTET] * 4))
_V6_CHARS = frozenset("0123456789abcdefABCDEF:")


def _fast_v4(text: str) -> int | None:
    """A dotted-quad IPv4 address (no leading zeros) as an integer; None for anything else."""
    match = _DOTTED_QUAD.fullmatch(text)
    if match is None:
        return None
    a, b, c, d = match.groups()
    return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)


def _fast_v6(text: str) -> int | None:
    """An all-hex IPv6 address (with at most one `::`) as an integer; None for anything else.

    ipaddress takes about 4 us per IPv6 address; this takes about 1. Forms it does not cover
    (an embedded IPv4 dotted quad, a zone) are left to ipaddress.
    """
    if len(text) > 39 or not _V6_CHARS.issuperset(text):
        return None
    head, compressed, tail = text.partition("::")
    if "::" in tail:
        return None
    before = head.split(":") if head else []
    after = tail.split(":") if tail else []
    count = len(before) + len(after)
    if (count > 7) if compressed else (count != 8):
        return None
    number = 0
    for group in before:
        if not 0 < len(group) <= 4:
            return None
        number = (number << 16) | int(group, 16)
    number <<= 16 * (8 - count)
    for group in after:
        if not 0 < len(group) <= 4:
            return None
        number = (number << 16) | int(group, 16)
    return number


@lru_cache(maxsize=256)
def parse_ip_span(value: str) -> IpSpan | None:
    """The addresses an IP or CIDR value covers, or None if it is not one.

    Host bits in a CIDR are tolerated (the block is widened). An IPv6 span that lies wholly inside
    ::ffff:0:0/96 (IPv4-mapped) or 64:ff9b::/96 (NAT64) is returned as the IPv4 span it embeds,
    so `::ffff:8.8.8.8` is judged exactly like `8.8.8.8`. Memoised (a small cache) because the
    guardrails and then the reference data parse the same value one after the other.
    """
    text = value.strip()
    quick = _fast_v4(text)
    if quick is not None:
        return (4, quick, quick)
    quick = _fast_v6(text)
    if quick is not None:
        version, first, last = 6, quick, quick
    else:
        try:
            version, first, last = _parse_slowly(text)
        except ValueError:
            return None
    if version == 6:
        for base in (_V4_MAPPED, _NAT64):
            if first >= base and last <= base | _LOW32:
                return (4, first - base, last - base)
    return (version, first, last)


def _parse_slowly(text: str) -> IpSpan:
    """A span by the ipaddress module (CIDR blocks and rarer notations); ValueError if none."""
    if "/" in text:
        network = ipaddress.ip_network(text, strict=False)
        first, last = int(network.network_address), int(network.broadcast_address)
        return (network.version, first, last)
    address = ipaddress.ip_address(text)
    return (address.version, int(address), int(address))


def _prefix_length(span: IpSpan) -> int:
    version, first, last = span
    bits = _V4_BITS if version == 4 else _V6_BITS
    return bits - ((last - first + 1).bit_length() - 1)


class _Range(NamedTuple):
    first: int
    last: int
    cidr: str
    description: str
    refused: bool


def _range(cidr: str, description: str, *, refused: bool = True) -> _Range:
    network = ipaddress.ip_network(cidr)
    first, last = int(network.network_address), int(network.broadcast_address)
    return _Range(first, last, cidr, description, refused)


_OUTSIDE_GLOBAL = "outside the global unicast space 2000::/3, unallocated or reserved (RFC 4291)"
_SPECIAL: dict[int, tuple[_Range, ...]] = {
    4: (
        _range("0.0.0.0/8", "the 'this network' range (RFC 1122), never a destination"),
        _range("0.0.0.0/32", "the unspecified address (RFC 1122)"),
        _range("10.0.0.0/8", "a private address range (RFC 1918)"),
        _range("100.64.0.0/10", "the shared address space of carrier-grade NAT (RFC 6598)"),
        _range("127.0.0.0/8", "the loopback range (RFC 1122)"),
        _range("169.254.0.0/16", "the link-local range (RFC 3927)"),
        _range("172.16.0.0/12", "a private address range (RFC 1918)"),
        _range("192.0.0.0/24", "reserved for IETF protocol assignments (RFC 6890)"),
        _range("192.0.2.0/24", "documentation (RFC 5737)", refused=False),
        _range("192.168.0.0/16", "a private address range (RFC 1918)"),
        _range("198.18.0.0/15", "reserved for network benchmarking (RFC 2544)"),
        _range("198.51.100.0/24", "documentation (RFC 5737)", refused=False),
        _range("203.0.113.0/24", "documentation (RFC 5737)", refused=False),
        _range("224.0.0.0/4", "the multicast range (RFC 5771)"),
        _range("240.0.0.0/4", "reserved for future use (RFC 1112)"),
        _range("255.255.255.255/32", "the limited broadcast address (RFC 919)"),
    ),
    6: (
        _range("::/3", _OUTSIDE_GLOBAL),
        _range("::/8", "reserved by the IETF (RFC 4291)"),
        _range("::/128", "the unspecified address (RFC 4291)"),
        _range("::1/128", "the loopback address (RFC 4291)"),
        _range("64:ff9b:1::/48", "reserved for local-use IPv4/IPv6 translation (RFC 8215)"),
        _range("100::/64", "the discard-only range (RFC 6666)"),
        _range("2001:2::/48", "reserved for network benchmarking (RFC 5180)"),
        _range("2001:db8::/32", "documentation (RFC 3849)", refused=False),
        _range("3fff::/20", "documentation (RFC 9637)", refused=False),
        _range("4000::/2", _OUTSIDE_GLOBAL),
        _range("8000::/1", _OUTSIDE_GLOBAL),
        _range("fc00::/7", "a unique local (private) range (RFC 4193)"),
        _range("fe80::/10", "the link-local range (RFC 4291)"),
        _range("fec0::/10", "the deprecated site-local range (RFC 3879)"),
        _range("ff00::/8", "the multicast range (RFC 4291)"),
    ),
}


def _innermost(ranges: tuple[_Range, ...], first: int, last: int) -> _Range | None:
    """The smallest range that holds all of first..last (ranges nest or are disjoint)."""
    best: _Range | None = None
    for candidate in ranges:
        holds = candidate.first <= first and last <= candidate.last
        if holds and (best is None or candidate.last - candidate.first < best.last - best.first):
            best = candidate
    return best


def _segments(ranges: tuple[_Range, ...]) -> tuple[list[int], list[_Range | None]]:
    """Elementary intervals with their innermost range, for an O(log n) single-address lookup."""
    starts = sorted({0} | {r.first for r in ranges} | {r.last + 1 for r in ranges})
    return starts, [_innermost(ranges, start, start) for start in starts]


_SEGMENTS = {version: _segments(ranges) for version, ranges in _SPECIAL.items()}


_DOCUMENTATION = ""
"""What the built-in rules answer for a documentation value: never refused, no reference asked."""


def _ip_reason(value: str, span: IpSpan) -> str | None:
    """A reason, None, or `_DOCUMENTATION`."""
    version, first, last = span
    ranges = _SPECIAL[version]
    if first == last:
        starts, owners = _SEGMENTS[version]
        owner = owners[bisect_right(starts, first) - 1]
        if owner is None:
            return None
        if not owner.refused:
            return _DOCUMENTATION
        if owner.first == owner.last:
            return f"{value} is {owner.description}"
        return f"{value} is in {owner.cidr}, {owner.description}"
    inside = _innermost(ranges, first, last)
    if inside is not None and not inside.refused:
        return _DOCUMENTATION  # a block within a documentation range
    if _prefix_length(span) < MIN_PREFIX[version]:
        size = f" ({last - first + 1:,} addresses)" if version == 4 else ""
        return (
            f"{value} is wider than a /{MIN_PREFIX[version]}{size}; "
            "a block that wide is surely a mistake"
        )
    if inside is not None:
        return f"{value} is inside {inside.cidr}, {inside.description}"
    for candidate in ranges:
        if candidate.refused and first <= candidate.first and candidate.last <= last:
            return f"{value} contains {candidate.cidr}, {candidate.description}"
    return None


_DOCUMENTATION_NAMES = frozenset(
    {"example.com", "example.net", "example.org", "example", "test", "invalid"}
)
_PRIVATE_NAMES = {
    "localhost": "a loopback name (RFC 6761)",
    "local": "a link-local multicast DNS name (RFC 6762)",
    "home.arpa": "a residential home network name (RFC 8375)",
    "internal": "a private-use name (the .internal top-level domain reserved by ICANN)",
}


def _last_labels(name: str) -> tuple[str, str]:
    """The last label and the last two labels of a host name."""
    dot = name.rfind(".")
    return name[dot + 1 :], name[name.rfind(".", 0, dot) + 1 :] if dot > 0 else name


def is_documentation_domain(host: str) -> bool:
    """example.com/.net/.org and names under .example, .test, .invalid (RFC 2606, RFC 6761)."""
    last, last_two = _last_labels(host.lower())
    return last in _DOCUMENTATION_NAMES or last_two in _DOCUMENTATION_NAMES


def _domain_reason(host: str) -> str | None:
    """A reason, None, or `_DOCUMENTATION`."""
    last, last_two = _last_labels(host.lower())
    if last in _DOCUMENTATION_NAMES or last_two in _DOCUMENTATION_NAMES:
        return _DOCUMENTATION
    description = _PRIVATE_NAMES.get(last) or _PRIVATE_NAMES.get(last_two)
    return f"{host} is {description}, never a public site" if description else None


def site_host(url: str) -> str | None:
    """The host of a canonical URL that names a whole site (path "/" and no query), else None.

    The port does not matter. An IPv6 host is returned without its brackets.
    """
    scheme_end = url.find("://")
    if scheme_end < 0:
        return None
    rest = url[scheme_end + 3 :]
    slash = rest.find("/")
    if slash < 0 or rest[slash:] != "/" or "?" in rest:
        return None
    authority = rest[:slash].rsplit("@", 1)[-1]
    if authority.startswith("["):
        end = authority.find("]")
        return (authority[1:end] or None) if end > 0 else None
    return authority.split(":", 1)[0] or None


_EMPTY_FILE = {
    IndicatorType.FILE_MD5: ("d41d8cd98f00b204e9800998ecf8427e", "MD5"),
    IndicatorType.FILE_SHA1: ("da39a3ee5e6b4b0d3255bfef95601890afd80709", "SHA-1"),
    IndicatorType.FILE_SHA256: (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "SHA-256",
    ),
}


def _host_reason(host: str) -> str | None:
    span = parse_ip_span(host)
    return _domain_reason(host) if span is None else _ip_reason(host, span)


def _builtin(indicator_type: IndicatorType, value: str) -> str | None:
    """A reason, None, or `_DOCUMENTATION`; each value is parsed once (this is the hot path)."""
    if indicator_type is IndicatorType.IP_ADDRESS:
        span = parse_ip_span(value)
        return None if span is None else _ip_reason(value, span)
    if indicator_type is IndicatorType.DOMAIN_NAME:
        return _domain_reason(value)
    if indicator_type is IndicatorType.URL:
        host = site_host(value)
        if host is None:
            return None
        reason = _host_reason(host)
        return f"{value} names the whole site {host}, and {reason}" if reason else reason
    empty = _EMPTY_FILE.get(indicator_type)
    if empty is not None and value.lower() == empty[0]:
        return f"this is the {empty[1]} of the empty file"
    return None


def builtin_reason(indicator_type: IndicatorType, value: str) -> str | None:
    """The pure rules alone, whatever the action: why the value is known benign, or None."""
    return _builtin(indicator_type, value.strip()) or None


_BLOCKING = frozenset(action for action in Action if action.blocks)


def refusal_reason(fields: IndicatorFields, known_benign: KnownBenignLookup) -> str | None:
    """Why this write must be refused (it would block something benign), or None if it may go.

    Never refuses Audit or Allowed. Documentation values are never refused. Otherwise the first
    built-in rule that applies wins, then the reference data's answer.
    """
    if fields.action not in _BLOCKING:
        return None
    indicator_type, value = fields.indicator_type, fields.value.strip()
    builtin = _builtin(indicator_type, value)
    if builtin is not None:
        return builtin or None
    return known_benign.reason(indicator_type, value)
