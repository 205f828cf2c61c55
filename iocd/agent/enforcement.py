"""What this host lets the agent enforce, and which mode is active.

Files:
- `execution-blocking`: fanotify permission events stop a blocked file in a watched folder before
  it runs (see `exec_guard`); the file is then quarantined as below. Needs root, a kernel with
  fanotify permission events, watched folders and a running agent.
- `quarantine-after-write`: the watched folders are checked as files appear and a blocked file is
  moved to the quarantine vault right after it is written. Active when the agent watches paths.
- `alert-only`: no folder is watched, so nothing is enforced as it happens (an on-demand
  `iocd agent scan` still quarantines what the policy blocks).

Network:
- `nftables`: the policy's Block addresses are dropped through the nftables table `inet iocd`
  (see `netblock`). Needs root and `nft`, and a running agent.
- `alert-only`: network matches only alert (not root, no `nft`, or no agent running).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from iocd.agent.exec_guard import available as exec_available
from iocd.agent.netblock import availability

EXECUTION_BLOCKING = "execution-blocking"
QUARANTINE_AFTER_WRITE = "quarantine-after-write"
ALERT_ONLY = "alert-only"
NFTABLES = "nftables"


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    available: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Enforcement:
    files: str
    network: str
    capabilities: tuple[Capability, ...]

    def to_wire(self) -> dict[str, str]:
        return {"files": self.files, "network": self.network}

    def lines(self) -> list[str]:
        out = [f"files: {self.files}", f"network: {self.network}"]
        for capability in self.capabilities:
            mark = "available" if capability.available else "unavailable"
            out.append(f"  {capability.name}: {mark} ({capability.reason})")
        return out


def detect(
    watching: bool,
    running: bool = True,
    network_block: bool = True,
    exec_block: bool = True,
) -> Enforcement:
    """The modes in force for an agent that watches paths (`watching`) on this host (`running`:
    whether an agent process runs, for `status`; `network_block` and `exec_block`: whether the
    agent was started with network and execution blocking on)."""
    linux = platform.system() == "Linux"
    if not linux:
        executable, blocking = False, "not Linux"
    else:
        executable, blocking = exec_available()
    if executable and not running:
        executable, blocking = False, "the host allows it, but no agent is running"
    elif executable and not exec_block:
        executable, blocking = False, "the host allows it, but the agent runs with --no-exec-block"
    elif executable and not watching:
        executable, blocking = False, "the host allows it, but no folder is watched (--watch PATH)"
    nft, network = availability()
    if nft and not running:
        network = "the host allows it, but no agent is running"
    elif nft and not network_block:
        network = "the host allows it, but the agent runs with --no-network-block"
    nft = nft and running and network_block
    capabilities = (
        Capability(EXECUTION_BLOCKING, executable, blocking),
        Capability(
            QUARANTINE_AFTER_WRITE,
            linux,
            "watched folders are checked as files are written"
            if watching
            else "no folder is watched (--watch PATH)",
        ),
        Capability(NFTABLES, nft, network),
    )
    files = QUARANTINE_AFTER_WRITE if watching and linux else ALERT_ONLY
    if executable:
        files = EXECUTION_BLOCKING
    return Enforcement(files, NFTABLES if nft else ALERT_ONLY, capabilities)
