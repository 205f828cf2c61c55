"""Endpoint agents as the server knows them: enrolment tokens and enrolled devices (issue 6).

An enrolment token is made by an administrator and shown once (`iocd_enr_<id>_<secret>`); only
a hash of its secret is kept. It expires, may be revoked, may be limited to a number of uses,
and may bind the devices it enrols to one device group (else the group rules decide). An
enrolled device holds a device credential (`iocd_dev_<deviceId>_<secret>`, hash kept) that
opens the agent endpoints only. Pure values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from iocd.errors import InvalidInput

ENROLL_PREFIX = "iocd_enr_"
DEVICE_PREFIX = "iocd_dev_"
MAX_TEXT = 256
MAX_TAGS = 64


class FileEnforcement(StrEnum):
    EXECUTION_BLOCKING = "execution-blocking"
    QUARANTINE_AFTER_WRITE = "quarantine-after-write"
    ALERT_ONLY = "alert-only"


class NetworkEnforcement(StrEnum):
    NFTABLES = "nftables"
    ALERT_ONLY = "alert-only"


@dataclass(frozen=True, slots=True)
class EnrollmentToken:
    token_id: str
    secret_hash: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    max_uses: int | None = None
    uses: int = 0
    group: str | None = None
    revoked_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return (
            self.revoked_at is None
            and self.expires_at > now
            and (self.max_uses is None or self.uses < self.max_uses)
        )

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used up"
        return "active"


@dataclass(frozen=True, slots=True)
class AgentDevice:
    """An enrolled device. `group_bound` says the group came from the enrolment token (rules
    never move it); else it is re-derived from the reported facts at every status report."""

    device_id: str
    hostname: str
    os: str
    domain: str
    tags: tuple[str, ...]
    group: str
    group_bound: bool
    credential_hash: str
    enrolled_at: datetime
    last_contact: datetime
    token_id: str
    agent_version: str = ""
    applied_sequence: int | None = None
    applied_digest: str | None = None
    file_enforcement: str | None = None
    network_enforcement: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """What an agent says about itself at enrolment or in a status report."""

    hostname: str
    os: str = ""
    domain: str = ""
    tags: tuple[str, ...] = ()
    agent_version: str = ""


def _text(field: str, raw: object, *, required: bool = False) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise InvalidInput(field, "must be a string")
    text = raw.strip()
    if required and not text:
        raise InvalidInput(field, "is required", "MissingRequiredParameter")
    if len(text) > MAX_TEXT or any(ord(c) < 32 for c in text):
        raise InvalidInput(field, f"must be at most {MAX_TEXT} printable characters")
    return text


def parse_device_report(data: object, *, hostname_required: bool = True) -> DeviceReport:
    """The device facts of an enrolment or status body (InvalidInput on a bad field)."""
    if not isinstance(data, dict):
        raise InvalidInput("body", "must be a JSON object", "InvalidRequestBody")
    tags_raw = data.get("tags") or []
    if not isinstance(tags_raw, list) or len(tags_raw) > MAX_TAGS:
        raise InvalidInput("tags", f"must be a list of at most {MAX_TAGS} strings")
    tags = tuple(dict.fromkeys(t for t in (_text("tags", t) for t in tags_raw) if t))
    return DeviceReport(
        hostname=_text("hostname", data.get("hostname"), required=hostname_required),
        os=_text("os", data.get("os")),
        domain=_text("domain", data.get("domain")),
        tags=tags,
        agent_version=_text("agentVersion", data.get("agentVersion")),
    )


def parse_enforcement(data: object) -> tuple[str | None, str | None]:
    """(files, network) modes of a status body's `enforcement` object."""
    if data is None:
        return None, None
    if not isinstance(data, dict):
        raise InvalidInput("enforcement", "must be an object with files and network")
    files, network = data.get("files"), data.get("network")
    try:
        return (
            FileEnforcement(files).value if files is not None else None,
            NetworkEnforcement(network).value if network is not None else None,
        )
    except ValueError:
        raise InvalidInput(
            "enforcement",
            "files is execution-blocking, quarantine-after-write or alert-only; network is "
            "nftables or alert-only",
        ) from None


def split_credential(text: str, prefix: str) -> tuple[str, str] | None:
    """(id, secret) of `<prefix><id>_<secret>`, or None."""
    if not text.startswith(prefix):
        return None
    ident, sep, secret = text.removeprefix(prefix).partition("_")
    if not sep or not ident or not secret:
        return None
    return ident, secret


_DURATION = re.compile(r"\s*(\d{1,6})\s*([smhd]?)\s*", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "": "hours"}


def parse_duration(raw: str | int, field: str = "expires") -> timedelta:
    """`30m`, `24h`, `7d`, `90s` (a bare number is hours)."""
    match = _DURATION.fullmatch(str(raw))
    if not match:
        raise InvalidInput(field, f"{raw!r} is not a duration like 30m, 24h or 7d")
    amount, unit = match.groups()
    return timedelta(**{_UNITS[unit.lower()]: int(amount)})
