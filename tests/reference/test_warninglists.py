"""Reference data for the guardrails: MISP warninglists, trusted software, and the two together."""

from __future__ import annotations

import ipaddress
import json
import statistics
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocd.domain.indicator import IndicatorFields
from iocd.domain.types import Action, IndicatorType
from iocd.errors import InvalidInput, InvalidValue
from iocd.policy.guardrails import refusal_reason
from iocd.reference.warninglists import (
    HASH_LISTS,
    PUBLIC_SUFFIX_LISTS,
    RESOLVER_HOST_LISTS,
    RESOLVER_IP_LISTS,
    TOP_SITE_LISTS,
    CombinedReference,
    TrustedSoftwareReference,
    WarninglistsReference,
    packaged_lists_dir,
)

T = IndicatorType
BLOCKING = [Action.WARN, Action.BLOCK, Action.BLOCK_AND_REMEDIATE]
IPV4_RESOLVERS = "'List of known IPv4 public DNS resolvers'"
IPV6_RESOLVERS = "'List of known IPv6 public DNS resolvers'"
RESOLVER_HOSTS = "'List of known public DNS resolvers expressed as hostname'"
TRANCO = "'Top 10K most-used sites from Tranco'"
EMPTY_FILES = "'List of known hashes for empty files'"
LOAD_BUDGET_SECONDS = 3.0  # measured: about 0.2 s
LOOKUP_BUDGET_US = 50.0  # measured: 1 to 3 us; the bound only catches a gross regression


@pytest.fixture(scope="module")
def reference() -> WarninglistsReference:
    packaged = WarninglistsReference()
    packaged.load()
    return packaged


def fields(indicator_type: IndicatorType, value: str, action: Action) -> IndicatorFields:
    return IndicatorFields(indicator_type, value, action, "title", "description")


def refused(reference: WarninglistsReference, indicator_type: IndicatorType, value: str) -> str:
    """The reason for every blocking action (they must agree); Audit and Allowed pass."""
    reasons = {refusal_reason(fields(indicator_type, value, a), reference) for a in BLOCKING}
    assert len(reasons) == 1
    reason = reasons.pop()
    assert reason is not None, f"{value} was not refused"
    for action in (Action.AUDIT, Action.ALLOWED):
        assert refusal_reason(fields(indicator_type, value, action), reference) is None
    return reason


def allowed(reference: WarninglistsReference, indicator_type: IndicatorType, value: str) -> bool:
    return all(refusal_reason(fields(indicator_type, value, a), reference) is None for a in Action)


# --- the packaged lists ---------------------------------------------------------------------


def test_loads_lazily_and_within_budget() -> None:
    lazy = WarninglistsReference()
    assert lazy.load_seconds is None
    started = time.perf_counter()
    assert lazy.reason(T.IP_ADDRESS, "8.8.8.8") is not None
    elapsed = time.perf_counter() - started
    assert lazy.load_seconds is not None
    assert elapsed < LOAD_BUDGET_SECONDS
    assert lazy.skipped_entries < 10  # a few malformed entries in the lists are ignored


RESOLVER = "a well-known public DNS resolver"


@pytest.mark.parametrize(
    ("value", "phrase", "listed_in"),
    [
        ("8.8.8.8", f"8.8.8.8 is {RESOLVER}", IPV4_RESOLVERS),
        ("1.1.1.1", f"1.1.1.1 is {RESOLVER}", IPV4_RESOLVERS),
        ("9.9.9.9", f"9.9.9.9 is {RESOLVER}", IPV4_RESOLVERS),
        ("2001:4860:4860::8888", f"2001:4860:4860::8888 is {RESOLVER}", IPV6_RESOLVERS),
        ("::ffff:808:808", f"::ffff:808:808 is {RESOLVER}", IPV4_RESOLVERS),  # mapped 8.8.8.8
        ("8.8.8.0/24", f"8.8.8.0/24 contains 8.8.8.8, {RESOLVER}", IPV4_RESOLVERS),
        ("2001:4860:4860::/48", "2001:4860:4860::/48 contains 2001:4860:4860::", IPV6_RESOLVERS),
    ],
)
def test_public_resolvers_are_refused(
    reference: WarninglistsReference, value: str, phrase: str, listed_in: str
) -> None:
    reason = refused(reference, T.IP_ADDRESS, value)
    assert phrase in reason
    assert reason.endswith(f"(MISP warninglist {listed_in})")


def test_every_listed_resolver_address_is_refused(reference: WarninglistsReference) -> None:
    for name in RESOLVER_IP_LISTS:
        entries = json.loads((packaged_lists_dir() / name / "list.json").read_text())["list"]
        for entry in entries:
            value = str(ipaddress.ip_network(entry, strict=False).network_address)
            reason = refusal_reason(fields(T.IP_ADDRESS, value, Action.BLOCK), reference)
            assert reason is not None, entry
            assert "public DNS resolver" in reason


EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SUFFIX = "is a public suffix: blocking it blocks every site registered under it"


@pytest.mark.parametrize(
    ("indicator_type", "value", "phrase"),
    [
        (
            T.DOMAIN_NAME,
            "dns.google",
            f"dns.google is {RESOLVER} (MISP warninglist {RESOLVER_HOSTS})",
        ),
        (T.DOMAIN_NAME, "dns.quad9.net", f"dns.quad9.net is {RESOLVER}"),
        (T.DOMAIN_NAME, "google.com", f"google.com is a top site (MISP warninglist {TRANCO})"),
        (T.DOMAIN_NAME, "www.google.com", "www.google.com is a top site"),
        (
            T.DOMAIN_NAME,
            "www.github.com",
            "www.github.com is the www name of github.com, a top site",
        ),
        (T.DOMAIN_NAME, "co.uk", f"co.uk {SUFFIX}"),
        (T.DOMAIN_NAME, "com.jm", "blocking com.jm would also block google.com.jm, a top site"),
        (T.URL, "https://google.com/", "https://google.com/ names the whole site google.com, and"),
        (T.URL, "https://google.com/", f"google.com is a top site (MISP warninglist {TRANCO})"),
        (T.URL, "https://www.github.com/", "www.github.com is the www name of github.com"),
        (T.URL, "http://8.8.8.8/", f"8.8.8.8 is {RESOLVER}"),
        (T.URL, "https://[2001:4860:4860::8888]/", f"2001:4860:4860::8888 is {RESOLVER}"),
        (T.FILE_MD5, EMPTY_MD5, "this is the MD5 of the empty file"),
        (T.FILE_SHA1, EMPTY_SHA1, "this is the SHA-1 of the empty file"),
        (T.FILE_SHA256, EMPTY_SHA256, "this is the SHA-256 of the empty file"),
    ],
)
def test_known_benign_values_are_refused(
    reference: WarninglistsReference, indicator_type: IndicatorType, value: str, phrase: str
) -> None:
    assert phrase in refused(reference, indicator_type, value)


@pytest.mark.parametrize(
    ("indicator_type", "value"),
    [
        # a subdomain of a listed host is not the listed host: blocking it must stay possible
        (T.DOMAIN_NAME, "evil.google.com"),
        (T.DOMAIN_NAME, "evil.blogspot.com"),
        (T.DOMAIN_NAME, "attacker.github.io"),
        (T.DOMAIN_NAME, "phish.dropbox.com"),
        # a specific path on a top site (a malicious file on a file-sharing site)
        (T.URL, "https://docs.google.com/some/malicious/path"),
        (T.URL, "https://google.com/?q=phish"),
        (T.URL, "https://evil.blogspot.com/"),
        (T.URL, "http://8.8.8.8/payload.exe"),
        # a whole-site URL is one host, not its subdomains: the public-suffix rule is not for URLs
        (T.URL, "https://co.uk/"),
        # documentation values are on real lists (example.com is a Tranco top site), yet pass
        (T.DOMAIN_NAME, "example.com"),
        (T.URL, "https://example.com/"),
        (T.IP_ADDRESS, "203.0.113.7"),
        (T.IP_ADDRESS, "93.184.216.34"),
        (T.IP_ADDRESS, "8.8.9.0/24"),
        (T.FILE_SHA256, "f" * 64),
        (T.CERTIFICATE_THUMBPRINT, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ],
)
def test_ordinary_indicators_are_allowed(
    reference: WarninglistsReference, indicator_type: IndicatorType, value: str
) -> None:
    assert allowed(reference, indicator_type, value)


@pytest.mark.parametrize(
    ("indicator_type", "value"),
    [(T.FILE_MD5, EMPTY_MD5), (T.FILE_SHA1, EMPTY_SHA1), (T.FILE_SHA256, EMPTY_SHA256)],
)
def test_the_reference_knows_the_empty_file_too(
    reference: WarninglistsReference, indicator_type: IndicatorType, value: str
) -> None:
    reason = reference.reason(indicator_type, value)
    assert reason == f"{value} is the hash of the empty file (MISP warninglist {EMPTY_FILES})"
    assert reference.reason(indicator_type, value.upper()) == reason


def test_false_positive_hashes_are_refused(reference: WarninglistsReference) -> None:
    entries = json.loads((packaged_lists_dir() / "ti-falsepositives" / "list.json").read_text())
    value = next(e for e in entries["list"] if len(e) == 64)
    assert "a common false positive in IOC lists" in refused(reference, T.FILE_SHA256, value)


@pytest.mark.parametrize(("indicator_type", "kind"), [(T.IP_ADDRESS, "ip"), (T.DOMAIN_NAME, "dns")])
def test_a_lookup_costs_a_few_microseconds(
    reference: WarninglistsReference, indicator_type: IndicatorType, kind: str
) -> None:
    if kind == "ip":
        values = [
            f"{a}.{b}.{c}.{d}"
            for a in (5, 93, 185)
            for b in range(30)
            for c in range(20)
            for d in (1, 7)
        ]
    else:
        values = [f"host{n}.example-{n % 97}.net" for n in range(1800)] + ["google.com"] * 50
    batch = [fields(indicator_type, v, Action.BLOCK) for v in values]
    per_lookup = []
    for _ in range(5):
        started = time.perf_counter()
        for item in batch:
            refusal_reason(item, reference)
        per_lookup.append((time.perf_counter() - started) / len(batch) * 1e6)
    assert statistics.median(per_lookup) < LOOKUP_BUDGET_US


# --- property: ordinary public addresses -----------------------------------------------------

# The IANA special-purpose registry, written independently of the implementation.
NOT_PUBLIC = [
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
        "240.0.0.0/4",
    )
]  # fmt: skip


@pytest.fixture(scope="module")
def listed_ipv4() -> frozenset[int]:
    entries = json.loads((packaged_lists_dir() / "public-dns-v4" / "list.json").read_text())
    networks = [ipaddress.ip_network(e, strict=False) for e in entries["list"]]
    assert all(n.num_addresses == 1 for n in networks)  # else the oracle below must change
    return frozenset(int(n.network_address) for n in networks)


@settings(max_examples=300, deadline=None)
@given(address=st.ip_addresses(v=4), action=st.sampled_from(list(Action)))
def test_public_unlisted_addresses_are_never_refused(
    reference: WarninglistsReference,
    listed_ipv4: frozenset[int],
    address: ipaddress.IPv4Address,
    action: Action,
) -> None:
    reason = refusal_reason(fields(T.IP_ADDRESS, str(address), action), reference)
    if not action.blocks:
        assert reason is None
    elif int(address) in listed_ipv4:
        assert reason is not None
        assert IPV4_RESOLVERS in reason
    elif not any(address in network for network in NOT_PUBLIC):
        assert reason is None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(IndicatorType)), st.sampled_from(list(Action)), st.text())
def test_guardrails_with_the_real_reference_never_raise(
    reference: WarninglistsReference, indicator_type: IndicatorType, action: Action, value: str
) -> None:
    reason = refusal_reason(fields(indicator_type, value, action), reference)
    assert reason is None or (action.blocks and reason)


# --- semantics, on small lists of our own ---------------------------------------------------


def write_lists(root: Path, entries: dict[str, list[str]]) -> Path:
    names = [*RESOLVER_IP_LISTS, *RESOLVER_HOST_LISTS, *TOP_SITE_LISTS, *PUBLIC_SUFFIX_LISTS]
    for name in [*names, *HASH_LISTS]:
        folder = root / name
        folder.mkdir(parents=True)
        body = {"name": f"list {name}", "type": "string", "list": entries.get(name, [])}
        (folder / "list.json").write_text(json.dumps(body))
    return root


@pytest.fixture
def small(tmp_path: Path) -> WarninglistsReference:
    lists = {
        "public-dns-v4": ["198.51.100.0/30", "198.51.100.2", "198.51.100.8/29", "not an ip"],
        "public-dns-v6": ["2001:db8:53::/64"],
        "public-dns-hostname": ["NS1.Resolver.Example.", "bad host name"],
        "tranco10k": ["top.example", "cdn.files.example"],
        "second-level-tlds": ["pages.example"],
        "common-ioc-false-positive": ["A" * 32],
    }
    return WarninglistsReference(write_lists(tmp_path, lists))


@pytest.mark.parametrize(
    ("indicator_type", "value", "phrase"),
    [
        (T.IP_ADDRESS, "198.51.100.3", "198.51.100.3 is a well-known public DNS resolver"),
        (T.IP_ADDRESS, "198.51.100.12", "198.51.100.12 is a well-known public DNS resolver"),
        (T.IP_ADDRESS, "198.51.100.0/24", f"198.51.100.0/24 contains 198.51.100.8, {RESOLVER}"),
        (T.IP_ADDRESS, "198.51.100.4/29", "198.51.100.4/29 contains 198.51.100.0"),  # widened
        (T.IP_ADDRESS, "198.51.100.12/30", "198.51.100.12/30 contains 198.51.100.12"),
        (T.IP_ADDRESS, "2001:db8:53::1", "2001:db8:53::1 is a well-known public DNS resolver"),
        (T.IP_ADDRESS, "2001:db8::/32", "2001:db8::/32 contains 2001:db8:53::, a well-known"),
        (T.DOMAIN_NAME, "ns1.resolver.example", "'list public-dns-hostname'"),
        (T.DOMAIN_NAME, "www.ns1.resolver.example", "the www name of ns1.resolver.example"),
        (T.DOMAIN_NAME, "top.example", "top.example is a top site (MISP warninglist 'list tranco"),
        (T.DOMAIN_NAME, "files.example", "blocking files.example would also block cdn.files"),
        (T.DOMAIN_NAME, "pages.example", "pages.example is a public suffix"),
        (T.URL, "https://www.top.example:8443/", "names the whole site www.top.example, and"),
        (T.FILE_MD5, "a" * 32, f"{'a' * 32} is a hash known as a common false positive"),
    ],
)
def test_list_semantics(
    small: WarninglistsReference, indicator_type: IndicatorType, value: str, phrase: str
) -> None:
    reason = small.reason(indicator_type, value)
    assert reason is not None
    assert phrase in reason


@pytest.mark.parametrize(
    ("indicator_type", "value"),
    [
        (T.IP_ADDRESS, "198.51.100.4"),
        (T.IP_ADDRESS, "198.51.100.4/30"),
        (T.IP_ADDRESS, "198.51.100.16/28"),
        (T.IP_ADDRESS, "2001:db8:54::1"),
        (T.IP_ADDRESS, "not an ip"),
        (T.DOMAIN_NAME, "evil.ns1.resolver.example"),  # exact match only for resolvers...
        (T.DOMAIN_NAME, "resolver.example"),  # ...and no parent rule for them either
        (T.DOMAIN_NAME, "evil.top.example"),
        (T.DOMAIN_NAME, "evil.pages.example"),
        (T.DOMAIN_NAME, "bad host name"),
        (T.URL, "https://files.example/"),  # a URL is one host: no parent rule
        (T.URL, "https://top.example/x"),
        (T.FILE_SHA1, "a" * 40),
        (T.CERTIFICATE_THUMBPRINT, "a" * 40),
    ],
)
def test_list_semantics_allow(
    small: WarninglistsReference, indicator_type: IndicatorType, value: str
) -> None:
    assert small.reason(indicator_type, value) is None


def test_malformed_entries_are_skipped_and_counted(small: WarninglistsReference) -> None:
    assert small.skipped_entries == 2


def test_a_missing_list_is_a_clear_error(tmp_path: Path) -> None:
    lists = write_lists(tmp_path, {})
    (lists / "tranco10k" / "list.json").unlink()
    with pytest.raises(FileNotFoundError, match="'tranco10k'"):
        WarninglistsReference(lists).load()


# --- trusted software and combined references -----------------------------------------------

SIGNED_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def test_trusted_software() -> None:
    trusted = TrustedSoftwareReference()
    trusted.add(T.FILE_SHA256, f" {SIGNED_SHA256.upper()} ", "Contoso Ltd")
    trusted.add(T.CERTIFICATE_THUMBPRINT, ":".join(["AB"] * 20), "Contoso Ltd")
    assert len(trusted) == 2
    reason = refused_by(trusted, T.FILE_SHA256, SIGNED_SHA256)
    assert reason == (
        f"{SIGNED_SHA256} is a file validly signed by Contoso Ltd, a trusted publisher "
        "(seen in telemetry)"
    )
    assert "is the certificate of Contoso Ltd" in refused_by(
        trusted, T.CERTIFICATE_THUMBPRINT, "ab" * 20
    )
    assert trusted.reason(T.FILE_SHA1, SIGNED_SHA256[:40]) is None
    assert trusted.reason(T.FILE_SHA256, "0" * 64) is None


def refused_by(reference: TrustedSoftwareReference, t: IndicatorType, value: str) -> str:
    reason = refusal_reason(fields(t, value, Action.BLOCK_AND_REMEDIATE), reference)
    assert reason is not None
    assert refusal_reason(fields(t, value, Action.AUDIT), reference) is None
    return reason


def test_trusted_software_rejects_other_types_and_bad_values() -> None:
    trusted = TrustedSoftwareReference()
    with pytest.raises(InvalidInput, match="file hash or thumbprint"):
        trusted.add(T.DOMAIN_NAME, "contoso.com", "Contoso Ltd")
    with pytest.raises(InvalidValue):
        trusted.add(T.FILE_SHA256, "not-a-hash", "Contoso Ltd")
    with pytest.raises(InvalidInput, match="publisher"):
        trusted.add(T.FILE_SHA256, SIGNED_SHA256, "  ")


def test_combined_reference_answers_with_the_first_reason(
    reference: WarninglistsReference,
) -> None:
    trusted = TrustedSoftwareReference()
    trusted.add(T.FILE_SHA256, SIGNED_SHA256, "Contoso Ltd")
    combined = CombinedReference(reference, trusted)
    assert "Contoso Ltd" in (combined.reason(T.FILE_SHA256, SIGNED_SHA256) or "")
    assert "top site" in (combined.reason(T.DOMAIN_NAME, "google.com") or "")
    assert combined.reason(T.DOMAIN_NAME, "evil-corp.com") is None
    assert CombinedReference().reason(T.DOMAIN_NAME, "google.com") is None
    reason = refusal_reason(fields(T.FILE_SHA256, SIGNED_SHA256, Action.BLOCK), combined)
    assert reason is not None
    assert "trusted publisher" in reason
