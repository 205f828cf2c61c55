"""What the list decides for one entity on one device (SPEC section 4), and why.

`ListedIndicator` is the part of an indicator that matching and precedence need; `Candidate` is
one listed indicator that matched an entity, with how it matched; `Decision` is the outcome
with its trace (winner, the rule that decided, the losers and why each lost). Pure values.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from iocd.domain.types import Action, IndicatorType


class Authority(IntEnum):
    """Whose decision an indicator is. Applications, global and security administrators act for
    the whole organisation; analysts act for the device groups assigned to them."""

    GROUP = 0
    ORGANISATION = 1


class Enforcement(StrEnum):
    NONE = "none"
    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"
    BLOCK_AND_REMEDIATE = "block_and_remediate"


class EntityKind(StrEnum):
    """Files (and their signing certificates) decide block-first; network entities allow-first."""

    FILE = "file"
    NETWORK = "network"


class MatchKind(StrEnum):
    """How a candidate matched. `Candidate.specificity` refines it: the prefix length of a CIDR,
    the number of path segments of a URL, the number of labels of a matching domain."""

    SHA256 = "sha256"
    SHA1 = "sha1"
    MD5 = "md5"
    CERTIFICATE = "certificate"
    URL = "url"
    HOST = "host"
    PARENT_DOMAIN = "parent_domain"
    IP = "ip"
    CIDR = "cidr"


@dataclass(frozen=True, slots=True)
class ListedIndicator:
    """An active indicator as the engines hold it. `groups` empty means all devices;
    `overridden` says it was created with a guardrail override (a justification)."""

    id: int
    indicator_type: IndicatorType
    value: str
    action: Action
    groups: frozenset[str] = frozenset()
    authority: Authority = Authority.ORGANISATION
    overridden: bool = False
    generate_alert: bool = True
    sequence: int = 0

    def applies_to(self, device_group: str) -> bool:
        return not self.groups or device_group in self.groups


@dataclass(frozen=True, slots=True)
class Candidate:
    indicator: ListedIndicator
    match: MatchKind
    specificity: int = 0


@dataclass(frozen=True, slots=True)
class FileContext:
    """What is known of a file's signature. A file validly signed by a trusted publisher is not
    blocked by a hash indicator unless that indicator was created with the guardrail override."""

    signature_valid: bool = False
    signer_trusted: bool = False

    @property
    def trusted(self) -> bool:
        return self.signature_valid and self.signer_trusted


@dataclass(frozen=True, slots=True)
class Decision:
    """`alerts` lists the candidates that raise an alert (the winner when it alerts, and every
    applicable Audit candidate); `notes` carries anything a person should read, such as a
    trusted signed file that was alerted on instead of blocked."""

    enforcement: Enforcement
    alert: bool
    winner: Candidate | None
    rule: str
    losers: tuple[tuple[Candidate, str], ...] = ()
    alerts: tuple[Candidate, ...] = ()
    notes: tuple[str, ...] = ()


NO_MATCH = Decision(Enforcement.NONE, False, None, "no matching indicator")
