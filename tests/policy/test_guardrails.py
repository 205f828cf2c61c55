"""Guardrails (SPEC section 3): the pure, built-in rules, with a fake reference."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocd.domain.indicator import IndicatorFields
from iocd.domain.types import Action, IndicatorType
from iocd.policy.guardrails import builtin_reason, parse_ip_span, refusal_reason, site_host

T = IndicatorType
BLOCKING = [Action.WARN, Action.BLOCK, Action.BLOCK_AND_REMEDIATE]
NOT_BLOCKING = [Action.AUDIT, Action.ALLOWED]
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class FakeReference:
    """Answers from a dict and records every question."""

    def __init__(self, answers: dict[tuple[IndicatorType, str], str] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[tuple[IndicatorType, str]] = []

    def reason(self, indicator_type: IndicatorType, value: str) -> str | None:
        self.asked.append((indicator_type, value))
        return self.answers.get((indicator_type, value))


def fields(indicator_type: IndicatorType, value: str, action: Action) -> IndicatorFields:
    return IndicatorFields(indicator_type, value, action, "title", "description")


# (type, canonical value, a phrase the reason must contain)
BUILTIN_REFUSED = [
    (T.IP_ADDRESS, "10.1.2.3", "10.1.2.3 is in 10.0.0.0/8, a private address range (RFC 1918)"),
    (T.IP_ADDRESS, "172.16.5.4", "172.16.0.0/12, a private address range (RFC 1918)"),
    (T.IP_ADDRESS, "192.168.1.1", "192.168.0.0/16, a private address range (RFC 1918)"),
    (T.IP_ADDRESS, "127.0.0.1", "127.0.0.0/8, the loopback range"),
    (T.IP_ADDRESS, "169.254.169.254", "169.254.0.0/16, the link-local range"),
    (T.IP_ADDRESS, "224.0.0.251", "224.0.0.0/4, the multicast range"),
    (T.IP_ADDRESS, "240.0.0.1", "240.0.0.0/4, reserved for future use"),
    (T.IP_ADDRESS, "255.255.255.255", "255.255.255.255 is the limited broadcast address"),
    (T.IP_ADDRESS, "0.0.0.0", "0.0.0.0 is the unspecified address"),  # noqa: S104
    (T.IP_ADDRESS, "0.1.2.3", "0.0.0.0/8, the 'this network' range"),
    (T.IP_ADDRESS, "100.64.0.1", "100.64.0.0/10, the shared address space"),
    (T.IP_ADDRESS, "198.18.0.1", "198.18.0.0/15, reserved for network benchmarking"),
    (T.IP_ADDRESS, "192.0.0.8", "192.0.0.0/24, reserved for IETF protocol assignments"),
    (T.IP_ADDRESS, "::1", "::1 is the loopback address"),
    (T.IP_ADDRESS, "::", ":: is the unspecified address"),
    (T.IP_ADDRESS, "fe80::1", "fe80::/10, the link-local range"),
    (T.IP_ADDRESS, "fd12:3456::1", "fc00::/7, a unique local (private) range"),
    (T.IP_ADDRESS, "ff02::1", "ff00::/8, the multicast range"),
    (T.IP_ADDRESS, "fec0::1", "fec0::/10, the deprecated site-local range"),
    (T.IP_ADDRESS, "100::1", "100::/64, the discard-only range"),
    (T.IP_ADDRESS, "4000::1", "outside the global unicast space 2000::/3"),
    (T.IP_ADDRESS, "::ffff:a00:1", "::ffff:a00:1 is in 10.0.0.0/8"),  # IPv4-mapped
    (T.IP_ADDRESS, "64:ff9b::7f00:1", "127.0.0.0/8, the loopback range"),  # NAT64
    # CIDR blocks inside, or containing, a special range
    (T.IP_ADDRESS, "10.1.0.0/16", "10.1.0.0/16 is inside 10.0.0.0/8, a private address range"),
    (T.IP_ADDRESS, "172.0.0.0/8", "172.0.0.0/8 contains 172.16.0.0/12, a private address range"),
    (T.IP_ADDRESS, "100.0.0.0/8", "contains 100.64.0.0/10, the shared address space"),
    (T.IP_ADDRESS, "192.0.0.0/8", "contains 192.0.0.0/24"),
    (T.IP_ADDRESS, "fe80::/64", "inside fe80::/10, the link-local range"),
    # blocks so wide they are surely a mistake
    (T.IP_ADDRESS, "0.0.0.0/0", "wider than a /8 (4,294,967,296 addresses)"),
    (T.IP_ADDRESS, "10.0.0.0/7", "10.0.0.0/7 is wider than a /8"),
    (T.IP_ADDRESS, "64.0.0.0/2", "surely a mistake"),
    (T.IP_ADDRESS, "::/0", "::/0 is wider than a /16; a block that wide is surely a mistake"),
    (T.IP_ADDRESS, "2000::/3", "2000::/3 is wider than a /16"),
    (T.IP_ADDRESS, "2a00::/15", "2a00::/15 is wider than a /16"),
    # private host names
    (T.DOMAIN_NAME, "app.localhost", "app.localhost is a loopback name (RFC 6761)"),
    (T.DOMAIN_NAME, "printer.local", "a link-local multicast DNS name (RFC 6762)"),
    (T.DOMAIN_NAME, "router.home.arpa", "a residential home network name (RFC 8375)"),
    (T.DOMAIN_NAME, "db.internal", "a private-use name"),
    # whole-site URLs take their host's rules
    (T.URL, "https://10.0.0.1/", "names the whole site 10.0.0.1, and 10.0.0.1 is in 10.0.0.0/8"),
    (T.URL, "http://[::1]:8080/", "names the whole site ::1, and ::1 is the loopback address"),
    (T.URL, "http://printer.local/", "printer.local is a link-local multicast DNS name"),
    # the empty file
    (T.FILE_MD5, EMPTY_MD5, "this is the MD5 of the empty file"),
    (T.FILE_SHA1, EMPTY_SHA1, "this is the SHA-1 of the empty file"),
    (T.FILE_SHA256, EMPTY_SHA256, "this is the SHA-256 of the empty file"),
]

ALWAYS_ALLOWED = [
    # documentation ranges: what examples and tests use
    (T.IP_ADDRESS, "192.0.2.1"),
    (T.IP_ADDRESS, "198.51.100.77"),
    (T.IP_ADDRESS, "203.0.113.7"),
    (T.IP_ADDRESS, "203.0.113.0/24"),
    (T.IP_ADDRESS, "203.0.113.128/25"),
    (T.IP_ADDRESS, "2001:db8::1"),
    (T.IP_ADDRESS, "2001:db8::/32"),
    (T.IP_ADDRESS, "2001:db8:1::/48"),
    (T.IP_ADDRESS, "3fff::1"),
    (T.IP_ADDRESS, "::ffff:cb00:7107"),  # ::ffff:203.0.113.7
    # ordinary public addresses and blocks at the width limit
    (T.IP_ADDRESS, "93.184.216.34"),
    (T.IP_ADDRESS, "11.0.0.0/8"),
    (T.IP_ADDRESS, "203.0.0.0/8"),  # contains only a documentation range
    (T.IP_ADDRESS, "2606:4700::6810:84e5"),
    (T.IP_ADDRESS, "2a00::/16"),
    (T.IP_ADDRESS, "::ffff:5db8:d822"),  # ::ffff:93.184.216.34
    # documentation names, ordinary names
    (T.DOMAIN_NAME, "example.com"),
    (T.DOMAIN_NAME, "www.example.org"),
    (T.DOMAIN_NAME, "malware.test"),
    (T.DOMAIN_NAME, "foo.example"),
    (T.DOMAIN_NAME, "evil-corp.com"),
    (T.DOMAIN_NAME, "localhost.evil.com"),
    # a URL with a path or a query is not the whole site
    (T.URL, "https://10.0.0.1/payload.exe"),
    (T.URL, "http://printer.local/?q=1"),
    (T.URL, "https://203.0.113.5/"),
    (T.URL, "https://example.com/"),
    (T.FILE_SHA256, "a" * 64),
    (T.CERTIFICATE_THUMBPRINT, EMPTY_SHA1),  # the empty-file rule is about files
]


@pytest.mark.parametrize("action", BLOCKING)
@pytest.mark.parametrize(("indicator_type", "value", "phrase"), BUILTIN_REFUSED)
def test_builtin_rules_refuse_blocking_actions(
    indicator_type: IndicatorType, value: str, phrase: str, action: Action
) -> None:
    reference = FakeReference()
    reason = refusal_reason(fields(indicator_type, value, action), reference)
    assert reason is not None
    assert phrase in reason
    assert reference.asked == []  # a built-in rule answers without the reference


@pytest.mark.parametrize("action", NOT_BLOCKING)
@pytest.mark.parametrize(("indicator_type", "value", "phrase"), BUILTIN_REFUSED)
def test_audit_and_allowed_are_never_refused(
    indicator_type: IndicatorType, value: str, phrase: str, action: Action
) -> None:
    reference = FakeReference({(indicator_type, value): "listed"})
    assert refusal_reason(fields(indicator_type, value, action), reference) is None
    assert reference.asked == []


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(("indicator_type", "value"), ALWAYS_ALLOWED)
def test_documentation_and_ordinary_values_pass(
    indicator_type: IndicatorType, value: str, action: Action
) -> None:
    assert refusal_reason(fields(indicator_type, value, action), FakeReference()) is None
    assert builtin_reason(indicator_type, value) is None


@pytest.mark.parametrize(
    ("indicator_type", "value"),
    [
        (T.DOMAIN_NAME, "example.com"),
        (T.IP_ADDRESS, "203.0.113.7"),
        (T.URL, "https://example.com/"),
    ],
)
def test_documentation_values_never_reach_the_reference(
    indicator_type: IndicatorType, value: str
) -> None:
    # example.com is on real top-site lists; it must stay blockable for examples and tests.
    reference = FakeReference({(indicator_type, value): "example.com is a top site"})
    assert refusal_reason(fields(indicator_type, value, Action.BLOCK), reference) is None
    assert reference.asked == []


@pytest.mark.parametrize(
    ("indicator_type", "value"),
    [
        (T.IP_ADDRESS, "8.8.8.8"),
        (T.DOMAIN_NAME, "dns.google"),
        (T.URL, "https://google.com/"),
        (T.URL, "https://docs.google.com/some/path"),
        (T.FILE_SHA256, "b" * 64),
        (T.CERTIFICATE_THUMBPRINT, "c" * 40),
    ],
)
def test_the_reference_is_asked_and_its_reason_returned(
    indicator_type: IndicatorType, value: str
) -> None:
    reference = FakeReference({(indicator_type, value): "known benign, says the reference"})
    for action in BLOCKING:
        reason = refusal_reason(fields(indicator_type, value, action), reference)
        assert reason == "known benign, says the reference"
    assert reference.asked == [(indicator_type, value)] * len(BLOCKING)
    assert refusal_reason(fields(indicator_type, value, Action.AUDIT), reference) is None


def test_upper_case_empty_hash_is_refused_too() -> None:
    reason = builtin_reason(T.FILE_MD5, EMPTY_MD5.upper())
    assert reason == "this is the MD5 of the empty file"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://google.com/", "google.com"),
        ("http://google.com:8080/", "google.com"),
        ("http://[2001:db8::1]/", "2001:db8::1"),
        ("http://[2001:db8::1]:8443/", "2001:db8::1"),
        ("http://198.51.100.1/", "198.51.100.1"),
        ("https://docs.google.com/some/malicious/path", None),
        ("https://google.com/?q=x", None),
        ("https://google.com/index.html", None),
        ("google.com/", None),
        ("http://[::1/", None),
        ("", None),
    ],
)
def test_site_host(url: str, host: str | None) -> None:
    assert site_host(url) == host


def _span(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int, int]:
    return (network.version, int(network.network_address), int(network.broadcast_address))


@given(st.ip_addresses())
def test_parse_ip_span_agrees_with_ipaddress(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    expected = _span(ipaddress.ip_network(address))
    if isinstance(address, ipaddress.IPv6Address) and (
        address.ipv4_mapped is not None or address in ipaddress.ip_network("64:ff9b::/96")
    ):
        expected = (4, int(address) & 0xFFFFFFFF, int(address) & 0xFFFFFFFF)
    forms = {str(address), address.exploded, str(address).upper()}
    for form in forms:
        assert parse_ip_span(form) == expected, form


@given(st.ip_addresses(v=4), st.integers(min_value=0, max_value=32))
def test_parse_ip_span_of_cidr_blocks(address: ipaddress.IPv4Address, prefix: int) -> None:
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    assert parse_ip_span(network.with_prefixlen) == _span(network)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "256.1.1.1",
        "1.2.3.4/33",
        ":",
        ":::",
        "1::2::3",
        "1:2:3:4:5:6:7:8:9",
        "12345::",
        "g::1",
        "1.2.3.٤",
        "example.com",
    ],
)
def test_parse_ip_span_rejects_what_ipaddress_rejects(text: str) -> None:
    assert parse_ip_span(text) is None


@given(st.sampled_from(list(IndicatorType)), st.sampled_from(list(Action)), st.text())
def test_guardrails_never_raise(indicator_type: IndicatorType, action: Action, value: str) -> None:
    reason = refusal_reason(fields(indicator_type, value, action), FakeReference())
    if not action.blocks:
        assert reason is None
    assert reason is None or reason


@given(
    st.sampled_from([T.IP_ADDRESS, T.URL]),
    st.sampled_from(list(Action)),
    st.from_regex(r"(https?://)?\[?[0-9a-fA-F:.]{0,45}\]?(/[0-9]{0,3})?/?", fullmatch=True),
)
def test_guardrails_never_raise_on_address_like_text(
    indicator_type: IndicatorType, action: Action, value: str
) -> None:
    refusal_reason(fields(indicator_type, value, action), FakeReference())
