"""What matches what (SPEC sections 2 and 4), checked on both matchers at once."""

from __future__ import annotations

from iocd.domain.decision import Authority
from iocd.domain.types import Action, IndicatorType
from iocd.matching.index import Removal, build
from iocd.matching.single import match_event, url_keys
from tests.matching.helpers import both, event, ind

SHA256 = IndicatorType.FILE_SHA256
IP = IndicatorType.IP_ADDRESS
DOMAIN = IndicatorType.DOMAIN_NAME
URL = IndicatorType.URL


def test_hashes_and_thumbprint_each_match_their_own_field() -> None:
    digest = "ab" * 32
    index = build(
        [
            ind(1, SHA256, digest),
            ind(2, IndicatorType.FILE_SHA1, "cd" * 20, Action.ALLOWED),
            ind(3, IndicatorType.FILE_MD5, "ef" * 16, Action.AUDIT),
            ind(4, IndicatorType.CERTIFICATE_THUMBPRINT, "cd" * 20, Action.BLOCK),
        ],
        9,
    )
    found = both(
        index,
        [
            event(sha256=digest),
            event(sha1="cd" * 20),
            event(signer_thumbprint="cd" * 20),
            event(md5="ef" * 16, sha256="00" * 32),
            event(sha1=digest[:40]),
        ],
    )
    assert found[0, "file"][:2] == ("block", 1)
    assert found[1, "file"] == ("allow", 2, frozenset({(2, "sha1", 0)}))
    assert found[2, "file"] == ("block", 4, frozenset({(4, "certificate", 0)}))
    assert found[3, "file"] == ("none", None, frozenset({(3, "md5", 0)}))
    assert (4, "file") not in found


def test_cidr_longest_prefix_and_exact_address_win() -> None:
    index = build(
        [
            ind(1, IP, "10.0.0.0/8", Action.BLOCK),
            ind(2, IP, "10.1.0.0/16", Action.ALLOWED),
            ind(3, IP, "10.1.2.0/24", Action.WARN),
            ind(4, IP, "10.1.2.3", Action.BLOCK),
            ind(5, IP, "2001:db8::/32", Action.BLOCK),
            ind(6, IP, "2001:db8:1::/48", Action.ALLOWED),
            ind(7, IP, "::ffff:192.0.2.0/120", Action.BLOCK),
        ],
        1,
    )
    found = both(
        index,
        [
            event(remote_ip="10.1.2.3"),
            event(remote_ip="10.1.2.4"),
            event(remote_ip="10.1.3.1"),
            event(remote_ip="10.200.0.1"),
            event(remote_ip="11.0.0.0"),
            event(remote_ip="2001:db8:1::5"),
            event(remote_ip="2001:db8:2::5"),
            event(remote_ip="192.0.2.77"),
            event(remote_ip="9.255.255.255"),
        ],
    )
    assert found[0, "network"][:2] == ("block", 4)
    assert found[1, "network"][:2] == ("warn", 3)
    assert found[1, "network"][2] == {(1, "cidr", 8), (2, "cidr", 16), (3, "cidr", 24)}
    assert found[2, "network"][:2] == ("allow", 2)
    assert found[3, "network"][:2] == ("block", 1)
    assert found[5, "network"][:2] == ("allow", 6)
    assert found[6, "network"][:2] == ("block", 5)
    assert found[7, "network"] == ("block", 7, frozenset({(7, "cidr", 120)}))
    assert (4, "network") not in found
    assert (8, "network") not in found


def test_subdomains_deepest_parent_wins_and_lookalikes_do_not_match() -> None:
    index = build(
        [
            ind(1, DOMAIN, "evil.com", Action.BLOCK),
            ind(2, DOMAIN, "cdn.evil.com", Action.ALLOWED),
            ind(3, DOMAIN, "x.cdn.evil.com", Action.WARN),
        ],
        1,
    )
    found = both(
        index,
        [
            event(domain="a.b.cdn.evil.com"),
            event(domain="x.cdn.evil.com"),
            event(domain="notevil.com"),
            event(domain="evil.com.example"),
            event(sni="www.evil.com"),
            event(domain="com"),
        ],
    )
    assert found[0, "network"][:2] == ("allow", 2)
    assert found[0, "network"][2] == {(1, "parent_domain", 2), (2, "parent_domain", 3)}
    assert found[1, "network"][:2] == ("warn", 3)
    assert (3, "host", 4) in found[1, "network"][2]
    assert found[4, "network"][:2] == ("block", 1)
    assert set(found) == {(0, "network"), (1, "network"), (4, "network")}


def test_url_longest_path_segment_boundaries_queries_and_scheme() -> None:
    index = build(
        [
            ind(1, URL, "https://h.example/", Action.AUDIT),
            ind(2, URL, "https://h.example/a", Action.BLOCK),
            ind(3, URL, "https://h.example/a/b", Action.ALLOWED),
            ind(4, URL, "http://h.example/a/b/c?x=1", Action.WARN),
            ind(5, URL, "https://h.example:8443/a", Action.BLOCK),
        ],
        1,
    )
    found = both(
        index,
        [
            event(url="https://h.example/a/b/c/d?q=2", domain="h.example"),
            event(url="http://h.example/a/b/c?x=1", domain="h.example"),
            event(url="https://h.example/a/b/c?x=2", domain="h.example"),
            event(url="https://h.example/ab", domain="h.example"),
            event(url="https://h.example/a", domain="h.example"),
            event(url="https://h.example:8443/a/z", domain="h.example"),
            event(url="https://other.example/a", domain="other.example"),
        ],
    )
    assert found[0, "network"][:2] == ("allow", 3)
    assert found[0, "network"][2] == {(1, "url", 0), (2, "url", 1), (3, "url", 2)}
    assert found[1, "network"][:2] == ("warn", 4)
    assert (4, "url", 4) in found[1, "network"][2]
    assert found[2, "network"][:2] == ("allow", 3)
    assert found[3, "network"] == ("none", None, frozenset({(1, "url", 0)}))
    assert found[4, "network"][:2] == ("block", 2)
    assert found[5, "network"][:2] == ("block", 5)
    assert (6, "network") not in found


def test_url_keys_cover_every_enclosing_path() -> None:
    assert url_keys("https://h/a/b/?q") == ["h/a/b/?q", "h/a/b/", "h/a/b", "h/a/", "h/a", "h/"]
    assert url_keys("http://h/") == ["h/"]


def test_url_host_stands_in_for_a_missing_domain() -> None:
    index = build([ind(1, DOMAIN, "evil.com"), ind(2, DOMAIN, "other.org")], 1)
    found = both(
        index,
        [
            event(url="https://www.evil.com:8080/x"),
            event(url="https://www.evil.com/x", domain="other.org"),
        ],
    )
    assert found[0, "network"][:2] == ("block", 1)
    assert found[1, "network"][:2] == ("block", 2)


def test_device_group_scoping_and_authority() -> None:
    index = build(
        [
            ind(1, DOMAIN, "evil.com", Action.BLOCK),
            ind(2, DOMAIN, "evil.com", Action.ALLOWED, ("Servers",), Authority.GROUP),
            ind(3, DOMAIN, "evil.com", Action.ALLOWED, ("Ungrouped devices",)),
            ind(4, DOMAIN, "evil.com", Action.WARN, ("Laptops",), Authority.GROUP),
        ],
        1,
    )
    found = both(
        index,
        [
            event(domain="evil.com", device_group="Servers"),
            event(domain="evil.com"),
            event(domain="evil.com", device_group="Laptops"),
            event(domain="evil.com", device_group="Kiosks"),
        ],
    )
    assert found[0, "network"][2] == {(1, "host", 2), (2, "host", 2)}
    assert found[0, "network"][:2] == ("block", 1)  # a group cannot override the organisation
    assert found[1, "network"][:2] == ("allow", 3)
    assert found[2, "network"][2] == {(1, "host", 2), (4, "host", 2)}
    assert found[3, "network"][2] == {(1, "host", 2)}


def test_one_event_gets_a_file_and_a_network_decision() -> None:
    index = build([ind(1, SHA256, "11" * 32), ind(2, IP, "198.51.100.7", Action.WARN)], 1)
    found = both(index, [event(sha256="11" * 32, remote_ip="198.51.100.7")])
    assert found == {
        (0, "file"): ("block", 1, frozenset({(1, "sha256", 0)})),
        (0, "network"): ("warn", 2, frozenset({(2, "ip", 32)})),
    }


def test_trusted_signed_file_is_alerted_not_blocked() -> None:
    index = build([ind(1, SHA256, "22" * 32)], 1)
    found = both(
        index,
        [
            event(sha256="22" * 32, signature_valid=True, signer_trusted=True),
            event(sha256="22" * 32, signature_valid=True, signer_trusted=False),
        ],
    )
    assert found[0, "file"][0] == "none"
    assert found[1, "file"][0] == "block"


def test_removal_upsert_and_tombstones() -> None:
    index = build(
        [ind(1, DOMAIN, "evil.com"), ind(2, IP, "10.0.0.0/8"), ind(3, SHA256, "33" * 32)], 5
    )
    changed = index.apply(
        [
            Removal(1, 6),
            ind(2, IP, "10.0.0.0/8", Action.ALLOWED),
            ind(4, DOMAIN, "evil.com", Action.WARN),
            3,
        ],
        8,
    )
    assert changed.sequence == 8
    assert index.sequence == 5
    assert len(changed) == 2
    events = [event(domain="www.evil.com", remote_ip="10.2.3.4"), event(sha256="33" * 32)]
    before = both(index, events)
    after = both(changed, events)
    assert before[0, "network"][:2] == ("block", 1)
    assert after[0, "network"][2] == {(2, "cidr", 8), (4, "parent_domain", 2)}
    assert after[0, "network"][:2] == ("warn", 4)
    assert (1, "file") in before
    assert (1, "file") not in after
    assert both(changed.compacted(), events) == after
    assert changed.get(1) is None
    assert changed.get(4) is not None
    again = changed.apply([Removal(4)])
    assert both(again, events)[0, "network"][2] == {(2, "cidr", 8)}


def test_compaction_past_the_threshold_keeps_every_indicator() -> None:
    index = build([ind(n, DOMAIN, f"d{n}.example") for n in range(1, 50)], 1, compact_past=10)
    for n in range(50, 80):
        index = index.apply([ind(n, DOMAIN, f"d{n}.example")])
    assert index.overlay_size <= 10
    assert len(index) == 79
    assert sorted(i.id for i in index.indicators()) == list(range(1, 80))
    assert match_event(index, event(domain="a.d77.example"))[0].indicator.id == 77


def test_bad_values_are_skipped_not_fatal() -> None:
    index = build([ind(1, SHA256, "zz" * 32), ind(2, SHA256, "44" * 32), ind(3, IP, "nonsense")], 1)
    assert {i.id for i in index.base.skipped} == {1, 3}
    assert both(index, [event(sha256="44" * 32)])[0, "file"][:2] == ("block", 2)


def test_empty_index_and_empty_batch() -> None:
    index = build([], 0)
    assert both(index, [event(domain="evil.com", remote_ip="1.2.3.4")]) == {}
    assert both(build([ind(1, DOMAIN, "evil.com")], 1), []) == {}
