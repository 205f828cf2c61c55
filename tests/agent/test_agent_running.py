"""The whole agent (sync, heartbeat, reporter, watcher) against the fake protocol server."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from iocd.agent.client import AgentApiError
from iocd.agent.quarantine import Exemptions, Vault
from iocd.agent.runner import STOP_GRACE, Agent, enroll
from iocd.agent.state import AgentState
from iocd.domain.types import Action
from tests.agent.fake_server import TOKEN, FakeServer, sha_indicator

SERVER = "http://iocd.test"


def eventually(check: Callable[[], object], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s")
        time.sleep(0.02)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def state(tmp_path: Path) -> AgentState:
    return AgentState(tmp_path / "state")


@pytest.fixture
def watched(tmp_path: Path) -> Path:
    folder = tmp_path / "watched"
    folder.mkdir()
    return folder


@pytest.fixture
def start_agent(
    server: FakeServer, state: AgentState, watched: Path
) -> Iterator[Callable[[], Agent]]:
    agents: list[Agent] = []

    def start() -> Agent:
        credential = state.credential() or enroll(state, SERVER, TOKEN, ["lab"], server.transport())
        agent = Agent(
            state,
            credential,
            watch=[watched],
            tags=["lab"],
            heartbeat=30,
            wait=0.5,
            settle=0.05,
            transport=server.transport(),
        )
        agent.start()
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


def test_enrolment_keeps_an_owner_only_credential(server: FakeServer, state: AgentState) -> None:
    with pytest.raises(AgentApiError, match="Unauthorized"):
        enroll(state, SERVER, "wrong", [], server.transport())
    credential = enroll(state, SERVER, TOKEN, ["lab"], server.transport())
    assert credential.token == "iocd_dev_dev1_s3cret" and credential.group == "Laptops"
    assert state.credential_path.stat().st_mode & 0o777 == 0o600
    assert state.folder.stat().st_mode & 0o777 == 0o700
    assert state.credential() == credential


def test_blocked_file_is_quarantined_alerted_and_restorable(
    server: FakeServer, state: AgentState, watched: Path, start_agent: Callable[[], Agent]
) -> None:
    payload = b"malware sample " + os.urandom(16)
    blocked = server.put(sha_indicator(11, hashlib.sha256(payload).hexdigest()))
    agent = start_agent()
    eventually(lambda: agent.sync.policy.sequence == server.sequence)
    eventually(lambda: any(s["appliedSequence"] == server.sequence for s in server.statuses))

    target = watched / "drop.exe"
    started = time.monotonic()
    target.write_bytes(payload)
    eventually(lambda: not target.exists(), within=2.0)
    eventually(lambda: server.alerts(), within=2.0 - (time.monotonic() - started))
    alert = server.alerts()[0]
    assert alert["indicatorId"] == str(blocked.id) and alert["entityType"] == "File"
    assert alert["decision"]["enforcement"] == "block"
    assert alert["entity"]["sha256"] == blocked.value and alert["event"]["file_path"] == str(target)
    items = Vault(state.vault_dir).items()
    assert [i.original_path for i in items] == [str(target)]

    Exemptions(state.exemptions_path).add(items[0])
    Vault(state.vault_dir).restore(items[0].id)
    time.sleep(0.5)  # the watcher sees the restored file and leaves it alone
    assert target.read_bytes() == payload


def test_changes_are_pushed_and_applied_atomically(
    server: FakeServer, watched: Path, start_agent: Callable[[], Agent]
) -> None:
    agent = start_agent()
    eventually(lambda: agent.sync.loaded)
    payload = b"becomes bad later"
    added = server.put(sha_indicator(5, hashlib.sha256(payload).hexdigest()))
    eventually(lambda: agent.sync.policy.sequence == added.sequence, within=2.0)
    assert agent.sync.policy.digest == server.digest
    assert server.snapshots_served == 1  # the change came as a delta

    server.corrupt_next_delta = True
    server.put(sha_indicator(6, "ab" * 32, Action.AUDIT))
    eventually(lambda: agent.sync.policy.sequence == server.sequence)
    assert agent.sync.policy.digest == server.digest and server.snapshots_served == 2


def test_enforcing_through_an_outage_and_delivering_after(
    server: FakeServer, state: AgentState, watched: Path, start_agent: Callable[[], Agent]
) -> None:
    payload = b"offline threat"
    server.put(sha_indicator(21, hashlib.sha256(payload).hexdigest(), Action.BLOCK_AND_REMEDIATE))
    agent = start_agent()
    eventually(lambda: agent.sync.policy.sequence == server.sequence)
    agent.stop()

    server.set_down(True)
    agent = start_agent()  # a restart while the server is down: the cached policy is enforced
    assert agent.sync.policy.sequence == server.sequence
    target = watched / "offline.bin"
    target.write_bytes(payload)
    eventually(lambda: not target.exists(), within=2.0)
    eventually(lambda: len(agent.reporter.spooled()) == 1)
    eventually(lambda: state.status().get("reachable") is False)
    assert server.reports == {}

    server.set_down(False)
    eventually(lambda: server.alerts(), within=5.0)
    eventually(lambda: agent.reporter.spooled() == [])
    assert [a["indicatorId"] for a in server.alerts()] == ["21"]
    assert server.alerts()[0]["decision"]["enforcement"] == "block_and_remediate"
    eventually(lambda: state.status().get("reachable") is True)


def test_sigterm_stops_a_running_agent_cleanly(
    server: FakeServer, state: AgentState, watched: Path
) -> None:
    """A service manager stops the agent with SIGTERM: it ends its threads and cleans up as
    with Ctrl-C (with nftables, its table goes)."""
    credential = enroll(state, SERVER, TOKEN, ["lab"], server.transport())
    agent = Agent(
        state, credential, watch=[watched], heartbeat=30, wait=0.5, transport=server.transport()
    )
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    agent.run_forever()  # returns once the signal arrived
    assert agent.stop_event.is_set()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_stopping_does_not_wait_for_a_long_poll_in_flight(
    server: FakeServer, state: AgentState, watched: Path
) -> None:
    """With the default 25 s long-poll held open by the server, SIGTERM still ends the agent
    within seconds (a service manager's stop must not hang for the poll)."""
    credential = enroll(state, SERVER, TOKEN, ["lab"], server.transport())
    agent = Agent(state, credential, watch=[watched], heartbeat=30, transport=server.transport())
    assert agent.wait >= 25
    threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    agent.run_forever()
    assert time.monotonic() - started < 1.5 + STOP_GRACE + 1.5
