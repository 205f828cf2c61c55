"""The whole agent enforcing network Block indicators: the real server over HTTP, the agent's
sync loop, and nftables inside a network namespace the test creates (the agent's HTTP stays in
the host's namespace; its nft commands run in the test namespace through `ip netns exec`).

A Block indicator for the peer's address, submitted through the API, makes the peer unreachable
from the namespace within seconds; deleting the indicator opens it again; stopping the agent
removes its table. Needs root, `ip` and `nft` (skips with the reason otherwise).
"""

from __future__ import annotations

from pathlib import Path

from iocd.agent.netblock import NftablesBlocker
from iocd.agent.runner import Agent, enroll
from iocd.agent.state import AgentState
from iocd.compose import Instance
from tests.agent.test_agent_e2e import Server, eventually, live  # noqa: F401  (fixture)
from tests.agent.test_netblock import _ping, _run, namespaces  # noqa: F401  (fixture)
from tests.api.api_support import ADMIN, LiveApi

PEER = "10.99.0.2"
OTHER = "10.99.0.3"


def _block(api: LiveApi, headers: dict[str, str], address: str) -> str:
    created = api.http.post(
        "/api/indicators",
        json={
            "indicatorValue": address,
            "indicatorType": "IpAddress",
            "action": "Block",
            "title": "C2 in the lab",
            "description": "the agent must drop it",
            # a private address: the guardrail asks for a justification
            "overrideJustification": "lab network under test",
        },
        headers=headers,
    )
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def test_the_agent_drops_a_block_address_pushed_by_the_server(
    tmp_path: Path,
    live: tuple[Instance, Server, LiveApi],  # noqa: F811
    namespaces: tuple[str, str],  # noqa: F811
) -> None:
    instance, server, api = live
    inside, _ = namespaces
    headers = api.app_headers()
    assert _ping(inside, PEER) and _ping(inside, OTHER)

    _, token = instance.agents.create_enrollment_token(ADMIN)
    state = AgentState(tmp_path / "agent")
    credential = enroll(state, server.url, token, ["lab"])
    blocker = NftablesBlocker(runner=["ip", "netns", "exec", inside])
    agent = Agent(state, credential, heartbeat=30, wait=2, blocker=blocker)
    agent.start()
    stopped = False
    try:
        assert agent.enforcement.network == "nftables"
        indicator = _block(api, headers, PEER)
        eventually(lambda: not _ping(inside, PEER), within=10)
        assert _ping(inside, OTHER)
        eventually(lambda: state.status().get("networkBlocked") == 1)

        deleted = api.http.delete(f"/api/indicators/{indicator}", headers=headers)
        assert deleted.status_code == 204, deleted.text
        eventually(lambda: _ping(inside, PEER), within=10)

        _block(api, headers, PEER)
        eventually(lambda: not _ping(inside, PEER), within=10)
        agent.stop()
        stopped = True
        tables = _run("ip", "netns", "exec", inside, "nft", "list", "tables")
        assert "iocd" not in tables.stdout  # the agent's table goes with it
        assert _ping(inside, PEER)
    finally:
        if not stopped:
            agent.stop()
