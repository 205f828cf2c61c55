"""A device joins the best-ranked device group whose rules match (SPEC section 9)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from iocd.domain.accounts import UNGROUPED, DeviceGroup, GroupRules
from iocd.policy.groups import DeviceFacts, group_for, rules_match

AT = datetime(2030, 1, 1, tzinfo=UTC)


def group(name: str, rank: int, **rules: tuple[str, ...]) -> DeviceGroup:
    return DeviceGroup(name, rank, GroupRules(**rules), AT)


SERVER = DeviceFacts("SRV-DB-01", domain="corp.example", os="Linux 6.1", tags=("prod", "db"))
LAPTOP = DeviceFacts("lap-0042", domain="corp.example", os="Windows 11", tags=("laptop",))


@pytest.mark.parametrize(
    ("rules", "device", "expected"),
    [
        (GroupRules(names=("srv-*",)), SERVER, True),  # case-insensitive shell pattern
        (GroupRules(names=("srv-*",)), LAPTOP, False),
        (GroupRules(names=("srv-*",), os=("Windows*",)), SERVER, False),  # every kind must match
        (GroupRules(names=("nope", "srv-*")), SERVER, True),  # any pattern within a kind
        (GroupRules(tags=("DB",)), SERVER, True),
        (GroupRules(domains=("*.example",)), LAPTOP, True),
        (GroupRules(), SERVER, False),  # no rules match no device
    ],
)
def test_rules_match(rules: GroupRules, device: DeviceFacts, expected: bool) -> None:
    assert rules_match(rules, device) is expected


def test_highest_rank_wins_and_unmatched_devices_are_ungrouped() -> None:
    groups = [
        group("Linux", 2, os=("linux*",)),
        group("Databases", 1, tags=("db",)),
        group("Laptops", 3, tags=("laptop",)),
    ]
    assert group_for(SERVER, groups) == "Databases"
    assert group_for(LAPTOP, groups) == "Laptops"
    assert group_for(DeviceFacts("printer"), groups) == UNGROUPED
