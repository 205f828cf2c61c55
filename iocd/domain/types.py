"""Enumerations of SPEC section 1 and the table of actions allowed per indicator type."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from iocd.errors import InvalidInput


class IndicatorType(StrEnum):
    FILE_SHA1 = "FileSha1"
    FILE_SHA256 = "FileSha256"
    FILE_MD5 = "FileMd5"
    CERTIFICATE_THUMBPRINT = "CertificateThumbprint"
    IP_ADDRESS = "IpAddress"
    DOMAIN_NAME = "DomainName"
    URL = "Url"

    @property
    def is_file_hash(self) -> bool:
        return self in FILE_HASH_TYPES

    @property
    def is_network(self) -> bool:
        return self in NETWORK_TYPES


FILE_HASH_TYPES = frozenset(
    {IndicatorType.FILE_SHA1, IndicatorType.FILE_SHA256, IndicatorType.FILE_MD5}
)
NETWORK_TYPES = frozenset({IndicatorType.IP_ADDRESS, IndicatorType.DOMAIN_NAME, IndicatorType.URL})


class Action(StrEnum):
    ALLOWED = "Allowed"
    AUDIT = "Audit"
    WARN = "Warn"
    BLOCK = "Block"
    BLOCK_AND_REMEDIATE = "BlockAndRemediate"

    @property
    def blocks(self) -> bool:
        """Whether the action cuts something off (the guardrails' concern)."""
        return self in (Action.WARN, Action.BLOCK, Action.BLOCK_AND_REMEDIATE)


LEGACY_ACTIONS = {"Alert": Action.AUDIT, "AlertAndBlock": Action.BLOCK_AND_REMEDIATE}


class Severity(StrEnum):
    INFORMATIONAL = "Informational"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}

E = TypeVar("E", bound=StrEnum)


class IndicatorState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    DELETED = "deleted"


ALLOWED_ACTIONS: dict[IndicatorType, frozenset[Action]] = {
    **{t: frozenset(Action) for t in FILE_HASH_TYPES},
    **{t: frozenset(Action) - {Action.BLOCK_AND_REMEDIATE} for t in NETWORK_TYPES},
    IndicatorType.CERTIFICATE_THUMBPRINT: frozenset(Action) - {Action.WARN},
}


_FOLDED: dict[type[StrEnum], dict[str, StrEnum]] = {}


def _lookup(enum: type[E], raw: str, field: str) -> E:
    """A member by its wire text, case-insensitive (a dict lookup: this runs once per CSV cell)."""
    table = _FOLDED.get(enum)
    if table is None:
        table = _FOLDED[enum] = {m.value.casefold(): m for m in enum}
    member = table.get(raw.strip().casefold())
    if member is None:
        choices = ", ".join(m.value for m in enum)
        raise InvalidInput(field, f"unknown value {raw!r}; expected one of {choices}")
    return member  # type: ignore[return-value]


def parse_indicator_type(raw: str) -> IndicatorType:
    return _lookup(IndicatorType, raw, "indicatorType")


def parse_action(raw: str) -> Action:
    """An action by name, case-insensitive; the legacy names Alert and AlertAndBlock are mapped."""
    folded = raw.strip().casefold()
    for legacy, action in LEGACY_ACTIONS.items():
        if legacy.casefold() == folded:
            return action
    return _lookup(Action, raw, "action")


def parse_severity(raw: str) -> Severity:
    return _lookup(Severity, raw, "severity")


def check_action_allowed(indicator_type: IndicatorType, action: Action) -> None:
    if action not in ALLOWED_ACTIONS[indicator_type]:
        raise InvalidInput(
            "action",
            f"action {action.value} is not allowed for indicator type {indicator_type.value}",
        )


def parse_member(enum: type[E], raw: str, field: str) -> E:
    """A member of any wire enumeration by its text, case-insensitive; InvalidInput naming
    `field` and the choices otherwise."""
    return _lookup(enum, raw, field)
