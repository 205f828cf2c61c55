"""The enforcement points' own tools, run on generated outputs; skip (or fail, when CI requires
them) where a tool is missing."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.services_required import require_or_skip

SURICATA_YAML = """%YAML 1.1
---
vars:
  address-groups:
    HOME_NET: "any"
    EXTERNAL_NET: "any"
  port-groups:
    HTTP_PORTS: "80"
default-rule-path: {rules}
rule-files:
  - iocd.rules
datasets:
  defaults:
    memcap: 100mb
    hashsize: 4096
app-layer:
  protocols:
    tls:
      enabled: yes
    http:
      enabled: yes
    dns:
      tcp:
        enabled: yes
      udp:
        enabled: yes
logging:
  default-log-level: warning
  outputs:
    - console:
        enabled: yes
outputs:
  - fast:
      enabled: yes
      filename: fast.log
stats:
  enabled: no
"""

UNBOUND_CONF = """server:
    module-config: "respip validator iterator"
    username: ""
    chroot: ""
    directory: "{directory}"
rpz:
    name: rpz.iocd.
    zonefile: {zone}
    rpz-log: yes
"""


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        require_or_skip(f"{name} is not installed (Debian packages it; .ci/run installs it)")
    return found


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def suricata_test(directory: Path) -> subprocess.CompletedProcess[str]:
    """`suricata -T` on directory/iocd.rules (the lists beside it) with a minimal config."""
    config = directory / "suricata.yaml"
    config.write_text(SURICATA_YAML.format(rules=directory))
    return run(
        tool("suricata"), "-T", "-c", config, "-S", directory / "iocd.rules", "-l", directory
    )


def named_checkzone(zone: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("named-checkzone"), "rpz.iocd", zone)


def unbound_checkconf(zone: Path) -> subprocess.CompletedProcess[str]:
    config = zone.with_name("unbound.conf")
    config.write_text(UNBOUND_CONF.format(directory=zone.parent, zone=zone))
    return run(tool("unbound-checkconf"), config)


def clamscan(database: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("clamscan"), "--no-summary", "-d", database, *files)


def pdns_recursor_answers(zone: Path, directory: Path, names: list[str]) -> dict[str, str]:
    """Start PowerDNS Recursor on a free loopback port with `zone` as an RPZ file, ask `dig` for
    each name and return its answer status (NXDOMAIN, NOERROR, SERVFAIL...). Names the zone does
    not cover are forwarded to a closed port, so they answer SERVFAIL whatever the network."""
    recursor = tool("pdns_recursor")
    dig = tool("dig")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (directory / "rpz.lua").write_text(f'rpzFile("{zone}", {{policyName="iocd"}})\n')
    (directory / "recursor.conf").write_text(
        "\n".join(
            [
                "local-address=127.0.0.1",
                f"local-port={port}",
                f"lua-config-file={directory / 'rpz.lua'}",
                f"socket-dir={directory}",
                "daemon=no",
                "write-pid=no",
                "security-poll-suffix=",
                "forward-zones-recurse=.=127.0.0.1:9",  # nothing upstream: misses SERVFAIL
                "",
            ]
        )
    )
    process = subprocess.Popen(
        [recursor, f"--config-dir={directory}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        statuses: dict[str, str] = {}
        deadline = time.monotonic() + 20
        for name in names:
            while True:
                answer = run(dig, "@127.0.0.1", "-p", str(port), "+time=2", "+tries=1", name)
                found = re.search(r"status: ([A-Z]+)", answer.stdout)
                if found or time.monotonic() > deadline:
                    break
                time.sleep(0.2)  # still starting
            statuses[name] = found.group(1) if found else f"no answer: {answer.stdout[-200:]}"
        return statuses
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
