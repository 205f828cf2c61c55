"""The enforcement points' own tools, run on generated outputs; skip (or fail, when CI requires
them) where a tool is missing."""

from __future__ import annotations

import shutil
import subprocess
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
