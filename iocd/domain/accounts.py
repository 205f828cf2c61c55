"""Accounts: applications (OAuth2 clients), users, personal tokens and device groups (SPEC 7, 9)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from iocd.domain.principal import Role
from iocd.errors import InvalidInput

UNGROUPED = "Ungrouped devices"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,127}")


class AppRole(StrEnum):
    """The roles an application token carries, as MDE names them."""

    READ_WRITE = "Ti.ReadWrite"
    READ_WRITE_ALL = "Ti.ReadWrite.All"
    TELEMETRY_WRITE = "Telemetry.Write"
    """An iocd extension: a telemetry forwarder, which may post telemetry and nothing else."""


@dataclass(frozen=True, slots=True)
class Application:
    """A registered OAuth2 client. Only a hash of its secret is stored."""

    client_id: str
    name: str
    role: AppRole
    secret_hash: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    rate_limit_per_minute: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class User:
    """A person. `device_groups` matter for analysts only; a disabled user cannot act."""

    name: str
    role: Role
    created_at: datetime
    display_name: str = ""
    device_groups: tuple[str, ...] = ()
    password_hash: str | None = None
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class PersonalToken:
    """A user's API token for scripts. `token_id` is public; only a hash of the secret is kept."""

    token_id: str
    user_name: str
    name: str
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class GroupRules:
    """Device matching rules. Within a kind any pattern may match (shell-style, case-insensitive);
    every kind that has patterns must match. No patterns at all matches no device."""

    names: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    os: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.names or self.domains or self.tags or self.os)


@dataclass(frozen=True, slots=True)
class DeviceGroup:
    """A device group. Rank 1 is the highest: a device joins the best-ranked group that matches."""

    name: str
    rank: int
    rules: GroupRules
    created_at: datetime
    description: str = ""


def check_name(field: str, raw: str) -> str:
    """Names of users, applications and groups: 1-128 printable characters, no separators."""
    name = raw.strip()
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            field,
            f"{raw!r} must be 1 to 128 letters, digits, spaces or . _ @ -, starting with a letter "
            "or digit",
        )
    return name


def parse_app_role(raw: str) -> AppRole:
    for role in AppRole:
        if role.value.casefold() == raw.strip().casefold():
            return role
    raise InvalidInput("role", f"{raw!r}: expected Ti.ReadWrite or Ti.ReadWrite.All")


def parse_role(raw: str) -> Role:
    folded = raw.strip().replace(" ", "").replace("-", "").casefold()
    for role in Role:
        if role.value.casefold() == folded:
            return role
    choices = ", ".join(r.value for r in Role)
    raise InvalidInput("role", f"{raw!r}: expected one of {choices}")
