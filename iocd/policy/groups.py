"""Which device group a device belongs to (SPEC section 9). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from iocd.domain.accounts import UNGROUPED, DeviceGroup, GroupRules


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What a device reports about itself."""

    name: str
    domain: str = ""
    os: str = ""
    tags: tuple[str, ...] = ()


def _any(patterns: Iterable[str], values: Iterable[str]) -> bool:
    lowered = [v.casefold() for v in values]
    return any(fnmatchcase(v, p.casefold()) for p in patterns for v in lowered)


def rules_match(rules: GroupRules, device: DeviceFacts) -> bool:
    if rules.empty:
        return False
    checks = (
        (rules.names, (device.name,)),
        (rules.domains, (device.domain,)),
        (rules.os, (device.os,)),
        (rules.tags, device.tags),
    )
    return all(_any(patterns, values) for patterns, values in checks if patterns)


def group_for(device: DeviceFacts, groups: Sequence[DeviceGroup]) -> str:
    """The best-ranked (lowest rank number) group whose rules match, else Ungrouped devices."""
    for group in sorted(groups, key=lambda g: (g.rank, g.name)):
        if rules_match(group.rules, device):
            return group.name
    return UNGROUPED
