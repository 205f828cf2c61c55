"""The agent's own process never loads pyarrow (issue 6: its shared libraries alone are some
80 MB resident): the real agent, run in a fresh process against the real server, syncs a
snapshot (compiled by the compile process), applies a delta, enforces the policy (a file
quarantined, the network block set read from the index's arrays), restarts from its cache, and
only then is `sys.modules` looked at."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from iocd.api.app import create_app
from iocd.clock import FixedClock
from iocd.compose import build
from iocd.config import Settings
from tests.agent.test_agent_e2e import Server
from tests.api.api_support import ADMIN, CHEAP_HASH, START, LiveApi

AGENT = """
import json, sys, time
from pathlib import Path
import iocd.main, iocd.agent.main  # the modules `iocd agent` loads
from iocd.agent.netblock import policy_block_set
from iocd.agent.policy_cache import PolicyCache
from iocd.agent.runner import Agent, enroll
from iocd.agent.state import AgentState
from iocd.agent.sync import PolicySync

url, token, folder, payload = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]

def eventually(check):
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, "not true within 60 s"
        time.sleep(0.05)

state = AgentState(folder / "state")
credential = enroll(state, url, token, [])
watched = folder / "watched"
agent = Agent(state, credential, watch=[watched], heartbeat=0.5, wait=1.0, settle=0.05)
agent.start()
eventually(lambda: agent.sync.loaded)
print(agent.sync.policy.sequence, flush=True)
wanted = int(sys.stdin.readline())
eventually(lambda: agent.sync.policy.sequence >= wanted)
target = watched / "drop.bin"
target.write_bytes(bytes.fromhex(payload))
eventually(lambda: not target.exists())
policy = agent.sync.policy
blocked = [str(n) for n in policy_block_set(policy, agent.group).v4]
agent.stop()
again = PolicySync(agent.sync.client, PolicyCache(state.policy_dir)).start()
print(json.dumps({
    "pyarrow": "pyarrow" in sys.modules,
    "sequence": policy.sequence,
    "indicators": len(policy),
    "overlay": policy.index.overlay_size,
    "blocked": blocked,
    "restarted": [again.sequence, again.digest == policy.digest] if again else None,
    "left": sorted(p.name for p in state.policy_dir.iterdir()),
}))
"""


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveApi]:
    config = Settings(data_dir=tmp_path / "server", database_url="memory://")
    clock = FixedClock(START)
    instance = build(config, hash_cost=CHEAP_HASH, clock=clock)
    server = Server(create_app(config, instance)).start()
    http = httpx.Client(base_url=server.url, timeout=30)
    yield LiveApi(instance, clock, server.url, http)
    http.close()
    server.stop()


def _add(api: LiveApi, kind: str, value: str) -> None:
    body = {
        "indicatorValue": value,
        "indicatorType": kind,
        "action": "Block",
        "title": "agent process",
        "description": "no pyarrow in the agent's process",
        "severity": "High",
    }
    created = api.http.post("/api/indicators", json=body, headers=api.app_headers())
    assert created.status_code == 200, created.text


@pytest.mark.slow
def test_the_agent_process_never_loads_pyarrow(tmp_path: Path, live: LiveApi) -> None:
    payload = b"never arrow " + os.urandom(8)
    _add(live, "FileSha256", "ab" * 32)
    _add(live, "DomainName", "evil.example")
    _, token = live.instance.agents.create_enrollment_token(ADMIN)
    command = [sys.executable, "-c", AGENT, live.base_url, token, str(tmp_path), payload.hex()]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as agent:
        assert agent.stdin is not None and agent.stdout is not None
        try:
            first = int(agent.stdout.readline())
            assert first >= 2
            _add(live, "FileSha256", hashlib.sha256(payload).hexdigest())
            _add(live, "IpAddress", "203.0.113.7")
            agent.stdin.write(f"{first + 2}\n")
            agent.stdin.flush()
            found = json.loads(agent.stdout.readline())
        finally:
            if agent.poll() is None:
                agent.kill()
    assert found["pyarrow"] is False
    assert found["sequence"] >= first + 2 and found["indicators"] == 4
    assert found["overlay"] >= 2  # the delta was applied in the process, as an overlay
    assert found["blocked"] == ["203.0.113.7/32"]
    assert found["restarted"] == [found["sequence"], True]
    assert [name for name in found["left"] if not name.startswith("snapshot-")] == ["manifest.json"]
