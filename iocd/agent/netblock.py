"""Network protection: the policy's Block addresses dropped through an nftables set.

`NftablesBlocker` keeps one table, `inet iocd`, with two interval sets (`block4`, `block6`) and
three base chains (`input`, `forward`, `output`, filter hooks at priority `filter`) that drop
packets to or from an address in the sets. Each `sync(policy, group)` is one `nft -f -`
transaction: the first (or the first after the table disappeared) creates the table afresh,
every one flushes both sets and adds the current elements, so a sync is atomic and idempotent.
`close()` deletes the table. `nft` runs through `subprocess` with an argv list (no shell);
`runner` is an argv prefix (tests pass `ip netns exec NS`).

What is blocked: IpAddress indicators (exact addresses and CIDRs) whose action is Block or
BlockAndRemediate and that apply to the device's group. Simplification of SPEC section 4
precedence: an applicable Allowed IpAddress indicator always wins for the addresses it covers,
whatever its specificity or authority, so the blocked ranges are the union of the Block ranges
minus the union of the Allowed ranges (a more specific Block inside a wider Allowed is *not*
enforced here; the agent's alerts still follow the full decision).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from iocd.agent.policy import Policy
from iocd.domain.decision import ListedIndicator
from iocd.domain.types import Action, IndicatorType

log = logging.getLogger(__name__)

TABLE = "iocd"
FAMILY = "inet"
BLOCKING = (Action.BLOCK, Action.BLOCK_AND_REMEDIATE)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NftError(Exception):
    """`nft` refused a transaction (or could not be run)."""


@dataclass(frozen=True, slots=True)
class BlockSet:
    """The ranges to drop, collapsed (no overlaps, as an interval set needs)."""

    v4: tuple[ipaddress.IPv4Network, ...] = ()
    v6: tuple[ipaddress.IPv6Network, ...] = ()

    def __len__(self) -> int:
        return len(self.v4) + len(self.v6)


def parse_network(value: str) -> Network | None:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def _subtract(blocked: list[Network], allowed: list[Network]) -> list[Network]:
    out = blocked
    for carve in allowed:
        following: list[Network] = []
        for net in out:
            if net.version != carve.version or not net.overlaps(carve):
                following.append(net)
            elif net.subnet_of(carve):  # type: ignore[arg-type]
                continue
            else:  # carve lies inside net: keep the rest of net
                following.extend(net.address_exclude(carve))  # type: ignore[arg-type]
        out = following
    return out


def block_ranges(blocked: Iterable[str], allowed: Iterable[str]) -> BlockSet:
    """The ranges to block (pure): the `blocked` address texts minus the `allowed` ones (see
    module doc); texts that are not addresses or networks are left out."""
    block = [n for n in map(parse_network, blocked) if n is not None]
    allow = [n for n in map(parse_network, allowed) if n is not None]
    v4 = [n for n in block if isinstance(n, ipaddress.IPv4Network)]
    v6 = [n for n in block if isinstance(n, ipaddress.IPv6Network)]
    a4 = list(ipaddress.collapse_addresses(n for n in allow if n.version == 4))
    a6 = list(ipaddress.collapse_addresses(n for n in allow if n.version == 6))
    kept4 = _subtract(list(ipaddress.collapse_addresses(v4)), list(a4))
    kept6 = _subtract(list(ipaddress.collapse_addresses(v6)), list(a6))
    return BlockSet(
        tuple(
            ipaddress.collapse_addresses(n for n in kept4 if isinstance(n, ipaddress.IPv4Network))
        ),
        tuple(
            ipaddress.collapse_addresses(n for n in kept6 if isinstance(n, ipaddress.IPv6Network))
        ),
    )


def block_set(indicators: Iterable[ListedIndicator], group: str) -> BlockSet:
    """The ranges to block for a device of `group` (pure): Block minus Allowed (see module doc)."""
    mine = [
        i
        for i in indicators
        if i.indicator_type is IndicatorType.IP_ADDRESS and i.applies_to(group)
    ]
    return block_ranges(
        (i.value for i in mine if i.action in BLOCKING),
        (i.value for i in mine if i.action is Action.ALLOWED),
    )


def policy_block_set(policy: Policy, group: str) -> BlockSet:
    """`block_set` of a policy's IpAddress entries, read from its index's arrays (no
    ListedIndicator made per address)."""
    return block_ranges(
        policy.addresses(group, BLOCKING), policy.addresses(group, (Action.ALLOWED,))
    )


def _element(network: Network) -> str:
    return (
        str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)
    )


def table_text() -> str:
    """Create the table afresh: declare it (so the delete never fails), delete, define."""
    t = f"{FAMILY} {TABLE}"
    return (
        f"add table {t}\n"
        f"delete table {t}\n"
        f"table {t} {{\n"
        "  set block4 { type ipv4_addr; flags interval; }\n"
        "  set block6 { type ipv6_addr; flags interval; }\n"
        "  chain input {\n"
        "    type filter hook input priority filter; policy accept;\n"
        "    ip saddr @block4 drop\n"
        "    ip6 saddr @block6 drop\n"
        "  }\n"
        "  chain forward {\n"
        "    type filter hook forward priority filter; policy accept;\n"
        "    ip saddr @block4 drop\n"
        "    ip daddr @block4 drop\n"
        "    ip6 saddr @block6 drop\n"
        "    ip6 daddr @block6 drop\n"
        "  }\n"
        "  chain output {\n"
        "    type filter hook output priority filter; policy accept;\n"
        "    ip daddr @block4 drop\n"
        "    ip6 daddr @block6 drop\n"
        "  }\n"
        "}\n"
    )


def elements_text(blocks: BlockSet) -> str:
    """Flush both sets and add the current elements (to follow `table_text` or stand alone)."""
    t = f"{FAMILY} {TABLE}"
    lines = [f"flush set {t} block4", f"flush set {t} block6"]
    for name, nets in (("block4", blocks.v4), ("block6", blocks.v6)):
        if nets:
            lines.append(f"add element {t} {name} {{ {', '.join(_element(n) for n in nets)} }}")
    return "\n".join(lines) + "\n"


def sync_text(blocks: BlockSet, create: bool) -> str:
    return (table_text() if create else "") + elements_text(blocks)


def availability() -> tuple[bool, str]:
    """Whether this host lets the agent use nftables, and why not."""
    if os.geteuid() != 0:
        return False, "needs root"
    if shutil.which("nft") is None:
        return False, "nft is not installed"
    return True, f"Block addresses are dropped through the nftables table {FAMILY} {TABLE}"


class NftablesBlocker:
    def __init__(self, runner: Sequence[str] = (), nft: str = "nft", timeout: float = 30.0) -> None:
        self.runner = list(runner)
        self.nft = nft
        self.timeout = timeout
        self._created = False
        self.last: BlockSet | None = None

    def available(self) -> tuple[bool, str]:
        return availability()

    def _run(self, args: Sequence[str], text: str | None = None) -> str:
        argv = [*self.runner, self.nft, *args]
        try:
            done = subprocess.run(  # noqa: S603 (an argv list, no shell)
                argv,
                input=text,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise NftError(f"{' '.join(argv)}: {error}") from error
        if done.returncode != 0:
            raise NftError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
        return done.stdout

    def apply(self, blocks: BlockSet) -> None:
        """One transaction; recreates the table when it is missing (first sync, or removed)."""
        try:
            self._run(["-f", "-"], sync_text(blocks, not self._created))
        except NftError:
            if not self._created:
                raise
            self._run(["-f", "-"], sync_text(blocks, True))  # the table vanished: start over
        self._created = True
        self.last = blocks

    def sync(self, policy: Policy, group: str) -> BlockSet:
        blocks = policy_block_set(policy, group)
        self.apply(blocks)
        log.info("network: %d v4 and %d v6 ranges blocked", len(blocks.v4), len(blocks.v6))
        return blocks

    def close(self) -> None:
        if not self._created:
            return
        try:
            self._run(["-f", "-"], f"add table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n")
        finally:
            self._created = False
