"""File protection: hash a file once, decide locally (SPEC section 4), enforce, report.

`Protector.check(path)` is shared by the watcher and `iocd agent scan`:

- the file is read once, computing only the hash types the policy holds;
- `matching.single.decide_event` decides it as a FILE event of this device's group, with an
  unknown signature (the agent does not verify signatures yet, so a file counts as untrusted);
- Block and BlockAndRemediate move it into the quarantine vault; Warn and Audit (and a winner
  whose enforcement is none but alerts) raise alerts; Allowed leaves it alone and suppresses the
  agent's other detectors (there are none yet besides the list itself);
- every alert goes to the reporter with its evidence and the decision, and every file checked
  becomes a telemetry event.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iocd.agent.hashing import FileHashes, hash_file
from iocd.agent.policy import Policy
from iocd.agent.quarantine import Exemptions, FileChanged, Vault
from iocd.agent.reporter import Reporter
from iocd.domain.decision import Decision, Enforcement, EntityKind
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.matching.single import decide_event
from iocd.policy.explain import decision_to_wire

log = logging.getLogger(__name__)

QUARANTINED, ALERTED, ALLOWED, CLEAN = "quarantined", "alerted", "allowed", "clean"
WARNED, EXEMPT, SKIPPED, FAILED = "warned", "exempt", "skipped", "error"
BLOCKING = (Enforcement.BLOCK, Enforcement.BLOCK_AND_REMEDIATE)


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    device_name: str
    group: str


@dataclass(frozen=True, slots=True)
class FileOutcome:
    path: str
    action: str
    decision: Decision | None = None
    hashes: FileHashes | None = None
    quarantine_id: str | None = None
    message: str = ""
    alerts: tuple[int, ...] = field(default=())

    def line(self) -> str:
        """One line for a person: what was done to the file, and why."""
        winner = self.decision.winner if self.decision else None
        why = ""
        if winner is not None:
            indicator = winner.indicator
            why = f" by indicator {indicator.id} ({indicator.action.value} {winner.match.value})"
        elif self.alerts:
            why = f" by audit indicator {', '.join(map(str, self.alerts))}"
        extra = f" as {self.quarantine_id}" if self.quarantine_id else ""
        note = f": {self.message}" if self.message else ""
        return f"{self.action}{extra}{why}: {self.path}{note}"


class Protector:
    def __init__(
        self,
        policy: Callable[[], Policy],
        vault: Vault,
        reporter: Reporter | None,
        exemptions: Exemptions,
        device: Callable[[], Device],
        *,
        enforce: bool = True,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.policy = policy
        self.vault = vault
        self.reporter = reporter
        self.exemptions = exemptions
        self.device = device
        self.enforce = enforce
        self.now = now

    def check(
        self, path: str | os.PathLike[str], attempts: int = 3, *, blocked_execution: bool = False
    ) -> FileOutcome:
        """Hash, decide, enforce and report one file. `blocked_execution`: execution blocking
        has just denied running it (the alert says so)."""
        text = os.path.abspath(path)
        for _ in range(attempts):
            try:
                return self._check_once(text, blocked_execution)
            except FileChanged:
                continue  # written again after hashing: decide on what is there now
            except FileNotFoundError:
                return FileOutcome(text, SKIPPED, message="gone")
            except OSError as error:
                return FileOutcome(text, FAILED, message=str(error))
        return FileOutcome(text, SKIPPED, message="still changing")

    def blocks(self, path: str, hashes: FileHashes) -> bool:
        """Whether the file at `path` with these hashes is to be stopped (execution blocking
        asks before the file runs): the policy blocks it, the agent enforces, and no person
        restored it."""
        if not self.enforce:
            return False
        decision = self._decide(self.policy(), self._event(path, hashes))
        return (
            decision is not None
            and decision.enforcement in BLOCKING
            and not self.exemptions.covers(path, hashes)
        )

    def _event(self, path: str, hashes: FileHashes) -> TelemetryEvent:
        device = self.device()
        return TelemetryEvent(
            time=self.now(),
            kind=EventKind.FILE,
            device_id=device.device_id,
            device_name=device.device_name,
            sha256=hashes.sha256,
            sha1=hashes.sha1,
            md5=hashes.md5,
            file_name=os.path.basename(path),
            file_path=path,
            device_group=device.group,
        )

    @staticmethod
    def _decide(policy: Policy, event: TelemetryEvent) -> Decision | None:
        found = [d for d in decide_event(policy.index, event) if d.entity is EntityKind.FILE]
        return found[0].decision if found else None

    def _check_once(self, path: str, blocked_execution: bool = False) -> FileOutcome:
        policy = self.policy()
        hashes = hash_file(path, policy.hash_types)
        event = self._event(path, hashes)
        native = native_event(event)
        if self.reporter is not None:
            self.reporter.event(native)
        decision = self._decide(policy, event)
        if decision is None:
            return FileOutcome(path, CLEAN, hashes=hashes)
        if self.exemptions.covers(path, hashes):
            return FileOutcome(path, EXEMPT, decision, hashes, message="restored by a person")
        wire = decision_to_wire(decision)
        outcome = FileOutcome(path, ALERTED if decision.alert else CLEAN, decision, hashes)
        blocking = decision.enforcement in BLOCKING
        if blocking and self.enforce:
            winner = decision.winner
            item = self.vault.put(
                Path(path), hashes, winner.indicator.id if winner else None, wire, self.now()
            )
            note = "execution blocked" if blocked_execution else ""
            outcome = FileOutcome(path, QUARANTINED, decision, hashes, item.id, note)
        elif blocking:
            outcome = FileOutcome(path, ALERTED, decision, hashes, message="alert-only mode")
        elif decision.enforcement is Enforcement.ALLOW:
            outcome = FileOutcome(path, ALLOWED, decision, hashes)
        elif decision.enforcement is Enforcement.WARN:
            outcome = FileOutcome(path, WARNED, decision, hashes)
        alerting = tuple(c.indicator.id for c in decision.alerts)
        if alerting and self.reporter is not None:
            entity = {**hashes.as_dict(), "fileName": os.path.basename(path), "filePath": path}
            entity["size"] = str(hashes.size)
            if outcome.quarantine_id:
                entity["quarantineId"] = outcome.quarantine_id
            if blocked_execution:
                entity["executionBlocked"] = "true"
            for indicator_id in alerting:
                self.reporter.alert(
                    {
                        "indicatorId": str(indicator_id),
                        "entityType": "File",
                        "entity": entity,
                        "decision": wire,
                        "event": native,
                    }
                )
        return FileOutcome(
            outcome.path,
            outcome.action,
            decision,
            hashes,
            outcome.quarantine_id,
            outcome.message,
            alerting,
        )

    def scan(
        self, paths: Iterable[str | os.PathLike[str]], skip: Path | None = None
    ) -> Iterator[FileOutcome]:
        """Check every regular file under `paths` (recursively; links are not followed)."""
        for root in paths:
            for path in walk(Path(root), skip):
                yield self.check(path)


def walk(root: Path, skip: Path | None = None) -> Iterator[str]:
    if root.is_file() and not root.is_symlink():
        yield str(root.absolute())
        return
    for folder, folders, files in os.walk(root):
        if skip is not None:
            folders[:] = [f for f in folders if not _inside(Path(folder, f), skip)]
        for name in sorted(files):
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                yield os.path.abspath(full)


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.absolute().is_relative_to(folder.absolute())
    except OSError:
        return False


def native_event(event: TelemetryEvent) -> dict[str, Any]:
    """The event in iocd's native telemetry shape (what `POST /api/agents/reports` carries)."""
    out: dict[str, Any] = {
        "time": event.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "kind": event.kind.value,
        "device_id": event.device_id,
        "device_name": event.device_name,
        "source": "native",
    }
    for name in ("sha256", "sha1", "md5", "file_name", "file_path", "remote_ip", "remote_port"):
        value = getattr(event, name)
        if value is not None:
            out[name] = value
    for name in ("domain", "url"):
        value = getattr(event, name)
        if value is not None:
            out[name] = value
    return out
