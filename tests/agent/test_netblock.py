"""Network protection through nftables: the ruleset text (pure), and a real blocker inside
network namespaces this test creates (root, `ip` and `nft` needed; skipped otherwise, since
these are host capabilities, not services)."""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from iocd.agent.enforcement import ALERT_ONLY, NFTABLES, detect
from iocd.agent.netblock import (
    BlockSet,
    NftablesBlocker,
    block_set,
    elements_text,
    policy_block_set,
    sync_text,
    table_text,
)
from iocd.agent.policy import Policy
from iocd.agent.protocol import Delta, digest_text, entry_hash
from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType


def ip(ident: int, value: str, action: Action = Action.BLOCK, *groups: str) -> ListedIndicator:
    return ListedIndicator(ident, IndicatorType.IP_ADDRESS, value, action, frozenset(groups))


def nets(*values: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(v) for v in values)


def test_block_set_takes_block_addresses_and_cidrs_of_the_group() -> None:
    indicators = [
        ip(1, "10.99.0.2"),
        ip(2, "192.0.2.0/24", Action.BLOCK_AND_REMEDIATE),
        ip(3, "2001:db8::/32"),
        ip(4, "198.51.100.7", Action.BLOCK, "Servers"),  # another group
        ip(5, "203.0.113.9", Action.WARN),  # alerts only
        ip(6, "203.0.113.10", Action.AUDIT),
        ListedIndicator(7, IndicatorType.DOMAIN_NAME, "evil.example", Action.BLOCK),
        ip(8, "not an address"),
        ip(9, "198.51.100.8", Action.BLOCK, "Laptops"),
    ]
    found = block_set(indicators, "Laptops")
    assert found.v4 == nets("10.99.0.2/32", "192.0.2.0/24", "198.51.100.8/32")
    assert found.v6 == nets("2001:db8::/32")


def test_allowed_carves_out_of_block() -> None:
    indicators = [
        ip(1, "10.0.0.0/30"),
        ip(2, "10.0.0.1", Action.ALLOWED),  # inside: the rest of the /30 stays blocked
        ip(3, "172.16.5.5"),
        ip(4, "172.16.0.0/16", Action.ALLOWED),  # covers: not blocked (simplification)
        ip(5, "10.9.9.9"),
        ip(6, "10.9.9.9", Action.ALLOWED, "Servers"),  # Allowed of another group: no effect
    ]
    found = block_set(indicators, "Laptops")
    assert found.v4 == nets("10.0.0.0/32", "10.0.0.2/31", "10.9.9.9/32")


def test_overlapping_blocks_are_collapsed() -> None:
    found = block_set([ip(1, "10.1.0.0/16"), ip(2, "10.1.2.3"), ip(3, "10.1.2.0/24")], "")
    assert found.v4 == nets("10.1.0.0/16")


def test_a_policy_block_set_is_read_from_its_arrays_as_from_its_entries() -> None:
    base = [
        ip(1, "10.0.0.0/30"),
        ip(2, "10.0.0.1", Action.ALLOWED),
        ip(3, "198.51.100.7", Action.BLOCK, "Servers"),
        ip(4, "198.51.100.8", Action.BLOCK, "Laptops"),
        ip(5, "2001:db8::/32", Action.BLOCK_AND_REMEDIATE),
        ip(6, "203.0.113.9", Action.WARN),
        ip(7, " 192.0.2.1 "),  # the index cannot compile it; nftables still drops it
        ip(8, "192.0.2.200"),
        ListedIndicator(9, IndicatorType.DOMAIN_NAME, "evil.example", Action.BLOCK),
    ]
    policy = Policy.from_snapshot(base, 1, None)
    changes = (ip(8, "192.0.2.200", Action.AUDIT), ip(10, "10.7.0.0/16"), ip(2, "10.0.0.3"))
    removed = policy.get(5)
    assert removed is not None
    digest = int(policy.digest, 16) ^ entry_hash(removed)
    for change in changes:  # replaced rows (tombstones) and an overlay
        old = policy.get(change.id)
        assert old is not None or change.id == 10
        digest ^= entry_hash(change) ^ (entry_hash(old) if old is not None else 0)
    policy = policy.with_delta(Delta(2, digest_text(digest), changes, (5,)))
    assert policy.index.overlay_size > 0 and " 192.0.2.1 " in {
        i.value for i in policy.skipped.values()
    }
    for group in ("Laptops", "Servers", ""):
        assert policy_block_set(policy, group) == block_set(policy.indicators(), group)
    assert policy_block_set(policy, "Laptops").v4 == nets(
        "10.0.0.0/30", "10.7.0.0/16", "192.0.2.1/32", "198.51.100.8/32"
    )


def test_ruleset_text() -> None:
    text = table_text()
    assert text.startswith("add table inet iocd\ndelete table inet iocd\ntable inet iocd {")
    assert "set block4 { type ipv4_addr; flags interval; }" in text
    assert "set block6 { type ipv6_addr; flags interval; }" in text
    for chain in ("input", "forward", "output"):
        assert f"type filter hook {chain} priority filter; policy accept;" in text
    assert "ip daddr @block4 drop" in text and "ip6 saddr @block6 drop" in text

    blocks = BlockSet(nets("10.99.0.2/32", "192.0.2.0/24"), nets("2001:db8::/32"))  # type: ignore[arg-type]
    assert elements_text(blocks).splitlines() == [
        "flush set inet iocd block4",
        "flush set inet iocd block6",
        "add element inet iocd block4 { 10.99.0.2, 192.0.2.0/24 }",
        "add element inet iocd block6 { 2001:db8::/32 }",
    ]
    assert elements_text(BlockSet()).splitlines() == [
        "flush set inet iocd block4",
        "flush set inet iocd block6",
    ]
    assert sync_text(blocks, False) == elements_text(blocks)
    assert sync_text(blocks, True) == table_text() + elements_text(blocks)


def test_status_says_alert_only_without_network_blocking() -> None:
    assert detect(False, network_block=False).network == ALERT_ONLY
    assert detect(False, running=False).network == ALERT_ONLY
    found = detect(False)
    nft = next(c for c in found.capabilities if c.name == NFTABLES)
    if os.geteuid() != 0:
        assert found.network == ALERT_ONLY and nft.reason == "needs root"
    elif shutil.which("nft") is None:
        assert found.network == ALERT_ONLY and nft.reason == "nft is not installed"
    else:
        assert found.network == NFTABLES and nft.available


# --- inside network namespaces ---------------------------------------------------------------


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=30)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    """Two namespaces joined by a veth pair: `agent` (10.99.0.1/24) and `peer` (10.99.0.2/24 and
    10.99.0.3/24)."""
    if os.geteuid() != 0:
        pytest.skip("network blocking needs root (host capability)")
    if shutil.which("ip") is None or shutil.which("nft") is None:
        pytest.skip("network blocking needs `ip` and `nft` (host capability)")
    tag = secrets.token_hex(3)
    agent, peer = f"iocd-test-{tag}-a", f"iocd-test-{tag}-p"
    made: list[str] = []
    try:
        for name in (agent, peer):
            if _run("ip", "netns", "add", name, check=False).returncode != 0:
                pytest.skip("the kernel refuses network namespaces here (host capability)")
            made.append(name)
        steps = [
            ("ip", "link", "add", f"iocd{tag}a", "type", "veth", "peer", "name", f"iocd{tag}p"),
            ("ip", "link", "set", f"iocd{tag}a", "netns", agent),
            ("ip", "link", "set", f"iocd{tag}p", "netns", peer),
            ("ip", "-n", agent, "addr", "add", "10.99.0.1/24", "dev", f"iocd{tag}a"),
            ("ip", "-n", peer, "addr", "add", "10.99.0.2/24", "dev", f"iocd{tag}p"),
            ("ip", "-n", peer, "addr", "add", "10.99.0.3/24", "dev", f"iocd{tag}p"),
            ("ip", "-n", agent, "link", "set", f"iocd{tag}a", "up"),
            ("ip", "-n", peer, "link", "set", f"iocd{tag}p", "up"),
            ("ip", "-n", agent, "link", "set", "lo", "up"),
            ("ip", "-n", peer, "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _run(*step, check=False)
            if done.returncode != 0:
                pytest.skip(f"the kernel refuses a veth pair here: {done.stderr.strip()}")
        probe = _run("ip", "netns", "exec", agent, "nft", "list", "ruleset", check=False)
        if probe.returncode != 0:
            pytest.skip(f"the kernel refuses nftables here: {probe.stderr.strip()}")
        yield agent, peer
    finally:
        for name in made:
            _run("ip", "netns", "del", name, check=False)


_PROBE = """
import socket, sys
s = socket.socket()
s.settimeout(1.0)
try:
    s.connect((sys.argv[1], 9))
except ConnectionRefusedError:
    pass  # the peer answered (a reset): reachable
except OSError:
    sys.exit(1)  # dropped (EPERM from the output hook, or a timeout)
"""


def _ping(namespace: str, address: str) -> bool:
    """A TCP connect from `namespace` to `address`: whether the peer answered at all."""
    argv = ("ip", "netns", "exec", namespace, sys.executable, "-c", _PROBE, address)
    return _run(*argv, check=False).returncode == 0


def test_blocker_drops_a_block_address_inside_a_namespace(
    namespaces: tuple[str, str],
) -> None:
    agent, _ = namespaces
    assert _ping(agent, "10.99.0.2") and _ping(agent, "10.99.0.3")  # before: both answer

    blocker = NftablesBlocker(runner=["ip", "netns", "exec", agent])
    policy = Policy.from_snapshot(
        [ip(1, "10.99.0.2"), ip(2, "10.99.0.3", Action.AUDIT), ip(3, "2001:db8::/48")], 5, None
    )
    try:
        blocks = blocker.sync(policy, "Laptops")
        assert len(blocks) == 2
        listed = _run("ip", "netns", "exec", agent, "nft", "list", "set", "inet", "iocd", "block4")
        assert "10.99.0.2" in listed.stdout and "10.99.0.3" not in listed.stdout
        assert not _ping(agent, "10.99.0.2")  # blocked
        assert _ping(agent, "10.99.0.3")  # not blocked

        blocker.sync(policy, "Laptops")  # idempotent: same table, same elements
        again = _run("ip", "netns", "exec", agent, "nft", "list", "table", "inet", "iocd")
        assert again.stdout.count("ip daddr @block4 drop") == 2  # output and forward, once each

        released = Policy.from_snapshot([ip(3, "2001:db8::/48")], 6, None)
        blocker.sync(released, "Laptops")  # a later policy without it: unblocked
        assert _ping(agent, "10.99.0.2")

        _run("ip", "netns", "exec", agent, "nft", "delete", "table", "inet", "iocd")
        blocker.sync(policy, "Laptops")  # the table was removed behind its back: recreated
        assert not _ping(agent, "10.99.0.2")
    finally:
        blocker.close()
    gone = _run("ip", "netns", "exec", agent, "nft", "list", "tables")
    assert "iocd" not in gone.stdout
    assert _ping(agent, "10.99.0.2")
