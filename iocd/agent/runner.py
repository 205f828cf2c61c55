"""The running agent: enrolment, then policy sync, heartbeat, reporting and file watching.

Threads: the sync loop (long-polls the server, applies deltas and snapshots), the heartbeat
(status every `heartbeat` seconds and right after each apply), the reporter (spool and delivery),
the watcher (watchdog's observer plus one worker that checks files), network telemetry (the
host's connections every second, see `connections`) and, as root, execution blocking. The
policy in force is one immutable object swapped whole, so the watcher never sees half a change;
when the server is unreachable every thread keeps going with what it has, and the sync loop
retries with growing pauses.
"""

from __future__ import annotations

import logging
import os
import platform
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from iocd import __version__
from iocd.agent.client import AgentApiError, AgentClient, ServerUnreachable
from iocd.agent.connections import PROC_FILES, ConnectionWatcher
from iocd.agent.enforcement import EXECUTION_BLOCKING, Enforcement, detect
from iocd.agent.exec_guard import ExecGuard
from iocd.agent.netblock import NftablesBlocker, NftError
from iocd.agent.policy import DigestMismatch, Policy
from iocd.agent.policy_cache import PolicyCache
from iocd.agent.protect import ALLOWED, CLEAN, SKIPPED, Device, Protector
from iocd.agent.protocol import ProtocolError
from iocd.agent.quarantine import Exemptions, Vault
from iocd.agent.remediation import Remediator
from iocd.agent.reporter import Reporter
from iocd.agent.state import AgentState, Credential
from iocd.agent.sync import PolicySync
from iocd.agent.watch import Watcher

log = logging.getLogger("iocd.agent")

STOP_GRACE = 3.0
"""Seconds stopping waits for the agent's threads. A long-poll in flight (up to `wait` s) is not
waited for: its thread is a daemon, its HTTP connection is closed, and a policy being applied
is safe to abandon (the cache is only ever replaced whole)."""


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def host_facts(tags: Sequence[str]) -> dict[str, Any]:
    """What the agent tells the server about its host (the server derives the group from it)."""
    fqdn = socket.getfqdn()
    hostname = socket.gethostname()
    domain = fqdn.partition(".")[2] if "." in fqdn else ""
    return {
        "hostname": hostname,
        "os": f"{platform.system()} {platform.release()}",
        "domain": domain,
        "tags": list(tags),
        "agentVersion": __version__,
    }


def enroll(
    state: AgentState,
    server: str,
    token: str,
    tags: Sequence[str],
    transport: httpx.BaseTransport | None = None,
) -> Credential:
    """Trade an enrolment token for a device credential and keep it (0600) in the state folder."""
    with AgentClient(server, transport=transport) as client:
        answer = client.enroll({"enrollToken": token, **host_facts(tags)})
    try:
        credential = Credential(
            server.rstrip("/"),
            str(answer["deviceId"]),
            str(answer["deviceCredential"]),
            str(answer.get("group") or ""),
        )
    except KeyError as error:
        raise AgentApiError(200, "BadReply", f"enrolment answer lacks {error}") from error
    state.save_credential(credential)
    state.update_status(group=credential.group, enrolledAt=now_text(), server=credential.server)
    return credential


class Agent:
    def __init__(
        self,
        state: AgentState,
        credential: Credential,
        *,
        watch: Sequence[Path] = (),
        tags: Sequence[str] = (),
        heartbeat: float = 60.0,
        wait: float = 25.0,
        settle: float = 0.2,
        tasks_every: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        blocker: NftablesBlocker | None = None,
        exec_block: bool = True,
        connections_every: float = 1.0,
    ) -> None:
        self.state = state.ensure()
        self.blocker = blocker
        self.credential = credential
        self.tags = list(tags)
        self.heartbeat = heartbeat
        self.wait = wait
        self.group = credential.group
        self.hostname = socket.gethostname()
        server, token = credential.server, credential.token
        self._clients = [
            AgentClient(server, token, retries=1, transport=transport) for _ in range(4)
        ]
        sync_client, status_client, report_client, task_client = self._clients
        self.status_client = status_client
        self.sync = PolicySync(sync_client, PolicyCache(state.policy_dir), self._applied)
        self.reporter = Reporter(state.spool_dir, report_client.reports)
        self.vault = Vault(state.vault_dir)
        self.enforcement: Enforcement = detect(
            bool(watch), network_block=blocker is not None, exec_block=exec_block
        )
        self._net_lock = threading.Lock()
        self.protector = Protector(
            lambda: self.sync.policy,
            self.vault,
            self.reporter,
            Exemptions(state.exemptions_path),
            self.device,
        )
        self.watcher = (
            Watcher(watch, self._check, ignore=state.folder, settle=settle) if watch else None
        )
        self.connections = ConnectionWatcher(
            lambda: self.sync.policy, self.reporter, self.device, interval=connections_every
        )
        self.exec_guard = (
            ExecGuard(
                watch,
                lambda: self.sync.policy.hash_types,
                self.protector.blocks,
                self._blocked_execution,
            )
            if self.enforcement.files == EXECUTION_BLOCKING
            else None
        )
        self.tasks_every = tasks_every
        self.remediator = Remediator(
            task_client.tasks,
            task_client.task_result,
            lambda: self.watcher.paths if self.watcher else [],
            self.vault,
            skip=state.folder,
        )
        self.stop_event = threading.Event()
        self._beat = threading.Event()
        self._threads: list[threading.Thread] = []

    def device(self) -> Device:
        return Device(self.credential.device_id, self.hostname, self.group)

    def _check(self, path: str) -> None:
        outcome = self.protector.check(path)
        if outcome.action not in (CLEAN, SKIPPED, ALLOWED):
            log.warning(outcome.line())

    def _blocked_execution(self, path: str) -> None:
        """Execution blocking denied running `path`: quarantine and alert as for a new file."""
        outcome = self.protector.check(path, blocked_execution=True)
        log.warning(outcome.line())

    def _applied(self, policy: Policy) -> None:
        self.state.update_status(
            appliedSequence=policy.sequence,
            appliedDigest=policy.digest,
            indicators=len(policy),
            appliedAt=now_text(),
        )
        self._resync_network(policy)
        self._beat.set()

    def _resync_network(self, policy: Policy) -> None:
        """Bring the nftables sets in line with `policy` (no-op without a blocker); a failure
        is logged and shown by `status`, and the next apply tries again."""
        if self.blocker is None:
            return
        with self._net_lock:
            try:
                blocks = self.blocker.sync(policy, self.group)
            except NftError as error:
                log.error("network blocking: %s", error)
                self.state.update_status(networkError=str(error))
                return
        self.state.update_status(networkBlocked=len(blocks), networkError="")

    def _contact(self, reachable: bool, error: str = "") -> None:
        fields: dict[str, Any] = {"reachable": reachable, "lastError": error}
        if reachable:
            fields["lastContact"] = now_text()
        self.state.update_status(**fields)

    def start(self) -> None:
        cached = self.sync.start()
        if cached is not None:
            self._resync_network(cached)  # enforce the last good policy before the server answers
        self.state.update_status(
            enforcement=self.enforcement.to_wire(),
            watching=[str(p) for p in (self.watcher.paths if self.watcher else [])],
            pid=os.getpid(),
            server=self.credential.server,
            group=self.group,
        )
        self._spawn("sync", self._sync_loop)
        self._spawn("heartbeat", self._heartbeat_loop)
        self._spawn("reporter", lambda: self.reporter.run(self.stop_event))
        self._spawn("remediation", self._remediation_loop)
        if PROC_FILES[0].exists():
            self._spawn("connections", lambda: self.connections.run(self.stop_event))
        if self.watcher is not None:
            self.watcher.start()
        if self.exec_guard is not None:
            try:
                self.exec_guard.start()
            except OSError as error:  # the host changed its mind since detect(): say so
                log.error("execution blocking unavailable: %s", error)
                self.exec_guard = None
                self.enforcement = detect(
                    True, network_block=self.blocker is not None, exec_block=False
                )
                self.state.update_status(enforcement=self.enforcement.to_wire())

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"iocd-agent-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self.stop_event.set()
        self._beat.set()
        if self.exec_guard is not None:
            self.exec_guard.stop()
        if self.watcher is not None:
            self.watcher.stop()
        deadline = time.monotonic() + STOP_GRACE
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        lingering = [thread.name for thread in self._threads if thread.is_alive()]
        if lingering:
            log.info("stopping without waiting for %s", ", ".join(lingering))
        for client in self._clients:
            client.close()
        if self.blocker is not None:
            with self._net_lock:
                try:
                    self.blocker.close()
                except NftError as error:
                    log.error("network blocking: could not remove the table: %s", error)

    def run_forever(self) -> None:
        """Run until Ctrl-C or SIGTERM (what a service manager sends), then stop cleanly: the
        threads end and the nftables table goes."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        self.start()
        try:
            while not self.stop_event.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _sync_loop(self) -> None:
        pause = 0.0
        while not self.stop_event.is_set():
            try:
                self.sync.step(self.wait)
                self._contact(True)
                pause = 0.0
            except (ServerUnreachable, AgentApiError) as error:
                self._contact(isinstance(error, AgentApiError), str(error))
                log.warning(
                    "policy sync: %s (enforcing sequence %d)", error, self.sync.policy.sequence
                )
                pause = min(max(pause * 2, 0.5), 30.0)
                self.stop_event.wait(pause)
            except (DigestMismatch, ProtocolError) as error:
                log.error("policy sync: the server's policy is not usable: %s", error)
                self.stop_event.wait(5.0)
            except Exception:
                if self.stop_event.is_set():  # its connection closed by stop(): not a failure
                    return
                log.exception("policy sync failed")
                self.stop_event.wait(5.0)

    def status_report(self) -> dict[str, Any]:
        policy = self.sync.policy
        return {
            "appliedSequence": policy.sequence,
            "appliedDigest": policy.digest,
            **host_facts(self.tags),
            "enforcement": self.enforcement.to_wire(),
        }

    def _heartbeat_loop(self) -> None:
        while not self.stop_event.is_set():
            self._beat.clear()
            try:
                answer = self.status_client.status(self.status_report())
                self.group = str(answer.get("group") or self.group)
                self.state.update_status(group=self.group, serverSequence=answer.get("sequence"))
                self._contact(True)
            except (ServerUnreachable, AgentApiError) as error:
                self._contact(isinstance(error, AgentApiError), str(error))
            except Exception:
                log.exception("status heartbeat failed")
            self._beat.wait(self.heartbeat)

    def _remediation_loop(self) -> None:
        """Remediation tasks of automated investigations: fetched every `tasks_every` s."""
        while not self.stop_event.wait(self.tasks_every):
            try:
                self.remediator.step()
            except (ServerUnreachable, AgentApiError) as error:
                log.debug("remediation tasks: %s", error)
            except Exception:
                log.exception("remediation tasks failed")
