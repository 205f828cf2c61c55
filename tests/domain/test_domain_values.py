"""Canonical values (SPEC section 2): hashes, thumbprints, IP addresses, and type detection.

Domain names and URLs are in test_domain_names.py.
"""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.domain.types import IndicatorType
from iocd.domain.values import detect_type, normalise
from iocd.errors import InvalidValue

HASH_LENGTHS = {
    IndicatorType.FILE_MD5: 32,
    IndicatorType.FILE_SHA1: 40,
    IndicatorType.FILE_SHA256: 64,
    IndicatorType.CERTIFICATE_THUMBPRINT: 40,
}
HASH_TYPES = list(HASH_LENGTHS)
HEX_ANY_CASE = "0123456789abcdefABCDEF"
SPACE = st.text(alphabet=" \t\r\n", max_size=3)
FAST = settings(max_examples=60, deadline=None)


def rejected(indicator_type: IndicatorType, raw: str) -> InvalidValue:
    """The error normalise raises; it must name the value field and give a reason."""
    with pytest.raises(InvalidValue) as info:
        normalise(indicator_type, raw)
    error = info.value
    assert error.field == "indicatorValue"
    assert error.reason.strip()
    return error


# --- hashes and thumbprints ------------------------------------------------------------------


@st.composite
def hex_digests(draw: st.DrawFn, length: int) -> str:
    return draw(st.text(alphabet=HEX_ANY_CASE, min_size=length, max_size=length))


@st.composite
def padded_hashes(draw: st.DrawFn) -> tuple[IndicatorType, str, str]:
    """(type, raw with random case and surrounding white space, expected canonical)."""
    kind = draw(st.sampled_from(HASH_TYPES))
    digest = draw(hex_digests(HASH_LENGTHS[kind]))
    return kind, draw(SPACE) + digest + draw(SPACE), digest.lower()


@FAST
@given(padded_hashes())
def test_hash_is_trimmed_and_lower_cased(case: tuple[IndicatorType, str, str]) -> None:
    kind, raw, expected = case
    canonical = normalise(kind, raw)
    assert canonical == expected
    assert normalise(kind, canonical) == canonical


@FAST
@given(st.binary(min_size=20, max_size=20), st.sampled_from([":", " "]), st.booleans())
def test_thumbprint_with_byte_separators(digest: bytes, separator: str, upper: bool) -> None:
    pairs = [f"{b:02X}" if upper else f"{b:02x}" for b in digest]
    canonical = normalise(IndicatorType.CERTIFICATE_THUMBPRINT, separator.join(pairs))
    assert canonical == digest.hex()
    assert normalise(IndicatorType.CERTIFICATE_THUMBPRINT, canonical) == canonical


@FAST
@given(st.sampled_from(HASH_TYPES), st.data())
def test_hash_of_wrong_length_names_both_lengths(kind: IndicatorType, data: st.DataObject) -> None:
    want = HASH_LENGTHS[kind]
    length = data.draw(st.integers(1, 80).filter(lambda n: n != want))
    error = rejected(kind, data.draw(hex_digests(length)))
    assert error.code == "InvalidHashValue"
    assert f"must be {want} hex characters, got {length}" in error.reason


NOT_HEX = st.characters(codec="utf-8").filter(
    lambda c: c.strip() != "" and c not in string.hexdigits
)


@FAST
@given(st.sampled_from(HASH_TYPES), st.data(), NOT_HEX)
def test_hash_with_a_non_hex_character_names_it(
    kind: IndicatorType, data: st.DataObject, bad: str
) -> None:
    digest = data.draw(hex_digests(HASH_LENGTHS[kind]))
    at = data.draw(st.integers(0, len(digest)))
    error = rejected(kind, digest[:at] + bad + digest[at:])
    assert "hexadecimal" in error.reason
    assert repr(bad) in error.reason


@pytest.mark.parametrize("kind", HASH_TYPES)
@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("not a hash at all", ["hexadecimal"]),
        ("0x" + "a" * 30, ["hexadecimal", "'x'"]),
        ("d41d8cd9 8f00b204", ["hexadecimal", "' '"]),
    ],
)
def test_hash_garbage(kind: IndicatorType, raw: str, words: list[str]) -> None:
    error = rejected(kind, raw)
    for word in words:
        assert word in error.reason


@pytest.mark.parametrize(
    ("kind", "raw", "canonical"),
    [
        (
            IndicatorType.FILE_MD5,
            " D41D8CD98F00B204E9800998ECF8427E\n",
            "d41d8cd98f00b204e9800998ecf8427e",
        ),
        (
            IndicatorType.FILE_SHA1,
            "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ),
        (
            IndicatorType.FILE_SHA256,
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            IndicatorType.CERTIFICATE_THUMBPRINT,
            "DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ),
        (
            IndicatorType.CERTIFICATE_THUMBPRINT,
            "da 39 a3 ee 5e 6b 4b 0d 32 55 bf ef 95 60 18 90 af d8 07 09",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ),
    ],
)
def test_hash_canonical_forms(kind: IndicatorType, raw: str, canonical: str) -> None:
    assert normalise(kind, raw) == canonical


def test_thumbprint_with_a_wrong_number_of_pairs_is_rejected() -> None:
    error = rejected(IndicatorType.CERTIFICATE_THUMBPRINT, ":".join(["ab"] * 19))
    assert "hexadecimal" in error.reason


# --- IP addresses ----------------------------------------------------------------------------

IP = IndicatorType.IP_ADDRESS


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("1.2.3.4", "1.2.3.4"),
        (" 1.2.3.4 ", "1.2.3.4"),
        ("1.2.3.4/32", "1.2.3.4"),
        ("203.0.113.0/24", "203.0.113.0/24"),
        ("203.0.113.0/255.255.255.0", "203.0.113.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:0DB8:0000::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:db8::1/128", "2001:db8::1"),
        ("2001:DB8::/32", "2001:db8::/32"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("::FFFF:1.2.3.4", "::ffff:1.2.3.4"),
        ("::ffff:0102:0304", "::ffff:1.2.3.4"),
        ("0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"),
        ("::ffff:0:0/96", "::ffff:0.0.0.0/96"),
        ("::", "::"),
    ],
)
def test_ip_canonical_forms(raw: str, canonical: str) -> None:
    assert normalise(IP, raw) == canonical


@st.composite
def ip_notations(draw: st.DrawFn) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, str]:
    """An address and one of its many textual notations."""
    address = draw(st.ip_addresses())
    if isinstance(address, ipaddress.IPv4Address):
        mapped = ipaddress.IPv6Address(f"::ffff:{address}")
        choices = [str(address), f"{address}/32", f"[{address}]"]
        if draw(st.booleans()):
            # An IPv4-mapped IPv6 address is a different value, written with its dotted quad.
            address = mapped
            choices = [f"::ffff:{address.ipv4_mapped}", mapped.exploded, mapped.exploded.upper()]
    else:
        choices = [
            str(address),
            address.exploded,
            address.exploded.upper(),
            address.compressed.upper(),
            f"[{address}]",
            f"{address.exploded}/128",
        ]
    text = draw(st.sampled_from(choices))
    return address, draw(SPACE) + text + draw(SPACE)


@settings(max_examples=150, deadline=None)
@given(ip_notations())
def test_every_notation_of_an_address_gives_one_canonical_form(
    case: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, str],
) -> None:
    address, raw = case
    canonical = normalise(IP, raw)
    assert ipaddress.ip_address(canonical) == address
    assert canonical == canonical.strip().lower()
    assert normalise(IP, canonical) == canonical
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        assert canonical == f"::ffff:{address.ipv4_mapped}"
    else:
        assert canonical == str(address)


@st.composite
def networks(draw: st.DrawFn) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    address = draw(st.ip_addresses())
    prefix = draw(st.integers(0, address.max_prefixlen))
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


@settings(max_examples=150, deadline=None)
@given(networks(), st.booleans())
def test_cidr_with_zero_host_bits(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, exploded: bool
) -> None:
    raw = network.exploded.upper() if exploded else network.with_prefixlen
    canonical = normalise(IP, raw)
    assert normalise(IP, canonical) == canonical
    if network.prefixlen == network.max_prefixlen:
        assert "/" not in canonical
        assert ipaddress.ip_address(canonical) == network.network_address
    else:
        assert ipaddress.ip_network(canonical) == network
        assert canonical.endswith(f"/{network.prefixlen}")


@settings(max_examples=150, deadline=None)
@given(st.ip_addresses(), st.data())
def test_cidr_with_host_bits_set_names_the_block(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, data: st.DataObject
) -> None:
    prefix = data.draw(st.integers(0, address.max_prefixlen - 1))
    block = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if block.network_address == address:
        return
    error = rejected(IP, f"{address}/{prefix}")
    assert error.code == "InvalidIpAddress"
    assert "host bits" in error.reason
    assert f"the block is {normalise(IP, block.with_prefixlen)}" in error.reason


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", ["empty"]),
        ("256.1.1.1", ["not a valid", "address"]),
        ("1.2.3", ["not a valid"]),
        ("1.2.3.4.5", ["not a valid"]),
        ("01.2.3.4", ["not a valid"]),
        ("١.٢.٣.٤", ["not a valid"]),
        ("2001:db8:::1", ["not a valid"]),
        ("2001:db8::g", ["not a valid"]),
        ("fe80::1%eth0", ["zone"]),
        ("1.2.3.4/33", ["not a valid", "CIDR"]),
        ("1.2.3.4/", ["not a valid"]),
        ("1.2.3.4/-1", ["not a valid"]),
        ("example.com", ["not a valid"]),
        ("1.2.3.4 5", ["not a valid"]),
        ("1.2.3.4:80", ["not a valid"]),
    ],
)
def test_ip_rejections(raw: str, words: list[str]) -> None:
    error = rejected(IP, raw)
    assert error.code == "InvalidIpAddress"
    for word in words:
        assert word in error.reason


# --- every normaliser is total and idempotent ----------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(IndicatorType)), st.text(alphabet=st.characters(codec="utf-8")))
def test_any_text_is_either_canonical_or_an_invalid_value(kind: IndicatorType, raw: str) -> None:
    """No other exception escapes, and whatever is accepted is a fixed point."""
    try:
        canonical = normalise(kind, raw)
    except InvalidValue as exc:
        error = exc
    else:
        assert normalise(kind, canonical) == canonical
        return
    assert error.field == "indicatorValue"
    assert error.reason.strip()


# --- detect_type -----------------------------------------------------------------------------


@FAST
@given(
    st.sampled_from([IndicatorType.FILE_MD5, IndicatorType.FILE_SHA1, IndicatorType.FILE_SHA256]),
    st.data(),
)
def test_detect_hash_by_length(kind: IndicatorType, data: st.DataObject) -> None:
    raw = data.draw(SPACE) + data.draw(hex_digests(HASH_LENGTHS[kind])) + data.draw(SPACE)
    assert detect_type(raw) is kind


@FAST
@given(ip_notations())
def test_detect_ip(case: tuple[object, str]) -> None:
    assert detect_type(case[1]) is IndicatorType.IP_ADDRESS


@FAST
@given(networks())
def test_detect_cidr(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
    assert detect_type(network.with_prefixlen) is IndicatorType.IP_ADDRESS


def test_a_thumbprint_looking_value_is_detected_as_sha1() -> None:
    assert detect_type("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709") is IndicatorType.FILE_SHA1


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("da39a3ee5e6b4b0d3255bfef95601890afd80709", IndicatorType.FILE_SHA1),
        (
            "DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09",
            IndicatorType.CERTIFICATE_THUMBPRINT,
        ),
        (
            "da 39 a3 ee 5e 6b 4b 0d 32 55 bf ef 95 60 18 90 af d8 07 09",
            IndicatorType.CERTIFICATE_THUMBPRINT,
        ),
        ("203.0.113.7/24", IP),  # host bits set: still an address, so the error says so
        ("2001:db8::1/32", IP),
        ("2001:db8:::1", IP),
        ("fe80::1%eth0", IP),
        ("example.com:8080", IndicatorType.URL),
        ("1.2.3.4:80", IndicatorType.URL),
        ("example.com/x", IndicatorType.URL),
        ("example.com?q", IndicatorType.URL),
        ("deadbeef", IndicatorType.DOMAIN_NAME),
    ],
)
def test_detect_type_table(raw: str, kind: IndicatorType) -> None:
    assert detect_type(raw) is kind
