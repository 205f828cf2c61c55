"""The agent's state folder: credential, policy cache, report spool, quarantine vault, status.

Default: `/var/lib/iocd-agent` when running as root, else the user's state folder
(`~/.local/state/iocd-agent` on Linux); `--state-dir` or `IOCD_AGENT_STATE_DIR` choose another.
The folder and the credential are owner-only (0700, 0600): the credential is the device's
bearer token.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from iocd.agent.files import private_dir, read_json, write_json

ROOT_STATE_DIR = Path("/var/lib/iocd-agent")
STATE_DIR_ENV = "IOCD_AGENT_STATE_DIR"


def default_state_dir() -> Path:
    chosen = os.environ.get(STATE_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser()
    if os.geteuid() == 0:
        return ROOT_STATE_DIR
    return Path(platformdirs.user_state_dir("iocd-agent", appauthor=False))


@dataclass(frozen=True, slots=True)
class Credential:
    server: str
    device_id: str
    token: str
    group: str

    def to_json(self) -> dict[str, str]:
        return {
            "server": self.server,
            "deviceId": self.device_id,
            "deviceCredential": self.token,
            "group": self.group,
        }


class AgentState:
    """Paths and small records under one state folder."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = (folder or default_state_dir()).expanduser().absolute()
        self._status_lock = threading.Lock()

    def ensure(self) -> AgentState:
        private_dir(self.folder)
        return self

    @property
    def credential_path(self) -> Path:
        return self.folder / "credential.json"

    @property
    def status_path(self) -> Path:
        return self.folder / "status.json"

    @property
    def exemptions_path(self) -> Path:
        return self.folder / "restored.json"

    @property
    def policy_dir(self) -> Path:
        return self.folder / "policy"

    @property
    def spool_dir(self) -> Path:
        return self.folder / "spool"

    @property
    def vault_dir(self) -> Path:
        return self.folder / "quarantine"

    def credential(self) -> Credential | None:
        data = read_json(self.credential_path)
        if not isinstance(data, dict):
            return None
        try:
            return Credential(
                str(data["server"]),
                str(data["deviceId"]),
                str(data["deviceCredential"]),
                str(data.get("group", "")),
            )
        except KeyError:
            return None

    def save_credential(self, credential: Credential) -> None:
        self.ensure()
        write_json(self.credential_path, credential.to_json(), mode=0o600)

    def status(self) -> dict[str, Any]:
        data = read_json(self.status_path)
        return data if isinstance(data, dict) else {}

    def update_status(self, **fields: Any) -> None:
        """Merge `fields` into status.json (what `iocd agent status` shows)."""
        self.ensure()
        with self._status_lock:
            write_json(self.status_path, {**self.status(), **fields}, mode=0o600)
