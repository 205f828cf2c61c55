"""What every telemetry reader shares: lenient value readers, the skip signal and the report.

Telemetry is lenient by contract: a field whose value does not normalise becomes None (never an
exception for one bad field), and a record that is not an event iocd cares about raises `Skip`
with a short reason, which the caller counts in a `ReadReport`.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from iocd.domain.values import normalise_domain, normalise_url
from iocd.errors import InvalidInput

MAX_REASONS = 20
"""How many skipped records a report describes one by one (all are counted)."""


class Skip(Exception):
    """This record is not an event iocd reads; `reason` says why (counted, not fatal)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TelemetryReadError(InvalidInput):
    """A whole input cannot be read (unknown format, broken gzip, JSON array cut short)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(where, reason, "InvalidTelemetry")


@dataclass
class ReadReport:
    """What a read did: events produced, records skipped by reason, the first few in detail.

    `samples` holds up to MAX_REASONS entries of `file:line: reason` (or `file:record N`).
    """

    events: int = 0
    skipped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def skip(self, where: str, reason: str, count: int = 1) -> None:
        """Count `count` records skipped for `reason`; `where` locates the first of them."""
        self.skipped += count
        self.reasons[reason] += count
        if len(self.samples) < MAX_REASONS:
            self.samples.append(f"{where}: {reason}")

    def summary(self) -> str:
        """One line a person can read: counts, then the commonest reasons."""
        common = "; ".join(f"{reason} ({n})" for reason, n in self.reasons.most_common(5))
        text = f"{self.events} events, {self.skipped} records skipped"
        return f"{text}: {common}" if common else text


_UNSET = frozenset({"", "-", "(empty)", "null", "None"})


def text(value: Any) -> str | None:
    """A present, non-placeholder string, stripped; None for null, '', '-' and '(empty)'."""
    if value is None:
        return None
    result = str(value).strip()
    return None if result in _UNSET else result


def hex_digest(value: Any, digits: int) -> str | None:
    """Lower-case hex of exactly `digits` digits, else None; all-zero digests are None too."""
    raw = text(value)
    if raw is None or len(raw) != digits:
        return None
    try:
        digest = bytes.fromhex(raw)
    except ValueError:
        return None
    return None if not any(digest) else digest.hex()


def ip_text(value: Any) -> str | None:
    """Canonical address text; an IPv4-mapped IPv6 address is given as its IPv4 address."""
    raw = text(value)
    if raw is None:
        return None
    raw = raw.removeprefix("[").removesuffix("]")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def port(value: Any) -> int | None:
    """A port 0..65535 from an int or digit string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        raw = text(value)
        if raw is None or not raw.isdigit():
            return None
        number = int(raw)
    return number if 0 <= number <= 65535 else None


def domain(value: Any) -> str | None:
    """A canonical domain, or None (IP literals included: they are not domains)."""
    raw = text(value)
    if raw is None or ip_text(raw) is not None:
        return None
    try:
        return normalise_domain(raw)
    except InvalidInput:
        return None


def url(value: Any) -> str | None:
    """A canonical http(s) URL, or None."""
    raw = text(value)
    if raw is None:
        return None
    try:
        return normalise_url(raw)
    except InvalidInput:
        return None


def flag(value: Any) -> bool | None:
    """true/false from a bool or the usual spellings ('true', 'T', '1'); else None."""
    if isinstance(value, bool):
        return value
    raw = text(value)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered in ("true", "t", "1", "yes"):
        return True
    if lowered in ("false", "f", "0", "no"):
        return False
    return None


_FRACTION = re.compile(r"(\.\d{6})\d+")


def timestamp(value: Any) -> datetime:
    """A UTC time from ISO 8601 text (any fraction length; naive means UTC) or epoch seconds.

    Raises Skip: an event without a readable time is not an event.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    raw = text(value)
    if raw is None:
        raise Skip("no time")
    try:
        if re.fullmatch(r"\d+(\.\d+)?", raw):
            return datetime.fromtimestamp(float(raw), UTC)
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", raw.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise Skip(f"unreadable time {raw[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def file_name_of(path: str | None) -> str | None:
    """The last component of a Windows or POSIX path."""
    if path is None:
        return None
    name = re.split(r"[\\/]", path)[-1]
    return name or None
