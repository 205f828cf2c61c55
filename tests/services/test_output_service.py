"""Which indicators go into each output: actions per output, device-group views, Allowed
indicators (by precedence), the cap and its priority, expiry, and who may read them; over the
composed services with the in-memory store and SQLite."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from iocd.clock import FixedClock
from iocd.compose import Instance, build
from iocd.config import Settings
from iocd.domain.accounts import GroupRules
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.outputs import OutputKind, OutputRequest, Selection
from iocd.domain.principal import Principal, PrincipalKind, Role
from iocd.errors import Forbidden, InvalidInput
from iocd.services.credentials import HashCost
from tests.factories import T0

ADMIN = Principal("root", Role.GLOBAL_ADMINISTRATOR, "Cli")
READER = Principal("fw", Role.READ_ONLY, "PublicApi")
ANALYST = Principal("ann", Role.ANALYST, "Cli", device_groups=frozenset({"A"}))


@pytest.fixture(params=["memory", "sqlite"])
def iocd(request: pytest.FixtureRequest, tmp_path: Path) -> Instance:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'o.sqlite3'}"
    settings = Settings(data_dir=tmp_path, database_url=url)
    instance = build(settings, clock=FixedClock(T0), hash_cost=HashCost(1, 8, 1))
    for name in ("A", "B"):
        instance.accounts.create_group(name, None, GroupRules(tags=(name,)), ADMIN)
    return instance


def add(
    iocd: Instance,
    value: str,
    action: str = "Block",
    *groups: str,
    by: Principal = ADMIN,
    severity: str = "High",
    expires: str | None = None,
) -> int:
    fields = build_fields(
        indicator_type=_type_of(value),
        value=value,
        action=action,
        title=f"{action} {value}",
        description="d",
        severity=severity,
        expiration_time=expires,
        rbac_group_names=groups,
    )
    draft = IndicatorDraft(fields, override_justification="documentation ranges in tests")
    result = iocd.indicators.submit(draft, by)
    assert result.indicator is not None, result
    return result.indicator.id


def _type_of(value: str) -> str:
    if "://" in value:
        return "Url"
    if value.replace(".", "").replace("/", "").isdigit() or ":" in value:
        return "IpAddress"
    if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return "FileSha256"
    return "DomainName"


def values(iocd: Instance, request: OutputRequest, by: Principal = READER) -> list[str]:
    return [e.value for e in iocd.outputs.select(request, by).entries]


def edl(name: str, *groups: str, cap: int | None = None) -> OutputRequest:
    return OutputRequest(OutputKind.EDL, name, groups, cap)


def test_each_output_takes_the_actions_it_enforces(iocd: Instance) -> None:
    for n, action in enumerate(["Block", "Warn", "Audit", "Allowed"]):
        add(iocd, f"{action.lower()}{n}.example", action)
    assert values(iocd, edl("domain")) == ["block0.example"]
    assert values(iocd, OutputRequest(OutputKind.RPZ)) == ["block0.example"]
    suricata = values(iocd, OutputRequest(OutputKind.SURICATA))
    assert suricata == ["block0.example", "warn1.example"]


def test_device_group_views(iocd: Instance) -> None:
    add(iocd, "all.example")
    add(iocd, "a.example", "Block", "A")
    add(iocd, "b.example", "Block", "B")
    assert values(iocd, edl("domain")) == ["all.example"]
    assert values(iocd, edl("domain", "A")) == ["all.example", "a.example"]
    assert values(iocd, edl("domain", "A", "B")) == ["all.example", "a.example", "b.example"]
    with pytest.raises(InvalidInput, match="unknown device group 'Nope'"):
        iocd.outputs.select(edl("domain", "Nope"), READER)


def test_allowed_indicators_exempt_what_precedence_lets_them_win(iocd: Instance) -> None:
    add(iocd, "evil.example")
    add(iocd, "evil.example", "Allowed", "A")  # group scope beats all-devices for A
    add(iocd, "sub.parent.example")
    add(iocd, "parent.example", "Allowed")  # a parent loses to the exact host
    add(iocd, "analyst.example", "Block", "A", by=ANALYST)
    add(iocd, "analyst.example", "Allowed")  # organisation beats an analyst's group Block
    selection = iocd.outputs.select(edl("domain"), READER)
    assert [e.value for e in selection.entries] == ["evil.example", "sub.parent.example"]
    assert selection.tally.exempted == 0
    selection = iocd.outputs.select(edl("domain", "A"), READER)
    assert [e.value for e in selection.entries] == ["sub.parent.example"]
    assert selection.tally.exempted == 2


def test_allowed_addresses_urls_and_hashes(iocd: Instance) -> None:
    add(iocd, "203.0.113.7")
    add(iocd, "203.0.113.0/24", "Allowed")  # exact IP beats the CIDR
    add(iocd, "198.51.100.0/24")
    add(iocd, "198.51.100.0/24", "Allowed", "A")
    add(iocd, "198.51.100.0/25")  # a longer prefix than the Allowed block
    assert values(iocd, edl("ip", "A")) == ["203.0.113.7", "198.51.100.0/25"]
    add(iocd, "http://bad.example/a/b")
    add(iocd, "http://bad.example/a", "Allowed")  # a shorter path loses
    add(iocd, "http://bad.example/c")
    add(iocd, "http://bad.example/c", "Allowed", "B")
    assert values(iocd, edl("url", "B")) == ["http://bad.example/a/b"]
    digest = "ab" * 32
    add(iocd, digest)
    add(iocd, digest, "Allowed", "B")
    assert values(iocd, edl("sha256")) == [digest]
    assert values(iocd, edl("sha256", "B")) == []


def test_rpz_passthru_for_allowed_names(iocd: Instance) -> None:
    add(iocd, "evil.example")
    add(iocd, "good.evil.example", "Allowed")
    add(iocd, "kept.evil.example", "Allowed", "A", by=ANALYST)  # loses to the organisation
    selection = iocd.outputs.select(OutputRequest(OutputKind.RPZ, groups=("A",)), READER)
    assert list(selection.passthru) == ["good.evil.example"]
    assert [e.value for e in selection.entries] == ["evil.example"]


def _selected(selection: Selection) -> list[str]:
    return [e.value for e in selection.entries]


def test_cap_keeps_severity_then_recency_then_id(iocd: Instance) -> None:
    clock = iocd.clock
    assert isinstance(clock, FixedClock)
    for name, severity in [
        ("low.example", "Low"),
        ("high-old.example", "High"),
        ("medium.example", "Medium"),
        ("high-new.example", "High"),
        ("high-tie1.example", "High"),
        ("high-tie2.example", "High"),
    ]:
        if name != "high-tie2.example":
            clock.advance(timedelta(minutes=1))
        add(iocd, name, severity=severity)
    first = iocd.outputs.select(edl("domain", cap=3), READER)
    # The three newest High ones, ties by lower id; written in id order.
    assert _selected(first) == ["high-new.example", "high-tie1.example", "high-tie2.example"]
    assert first.omitted_by_cap == 3
    capped = iocd.outputs.select(edl("domain", cap=2), READER)
    assert _selected(capped) == ["high-tie1.example", "high-tie2.example"]
    tie = iocd.outputs.select(edl("domain", cap=1), READER)
    assert _selected(tie) == ["high-tie1.example"]  # same severity and time: the lower id
    again = iocd.outputs.select(edl("domain", cap=4), READER)
    assert _selected(again) == [
        "high-old.example",
        "high-new.example",
        "high-tie1.example",
        "high-tie2.example",
    ]
    assert _selected(iocd.outputs.select(edl("domain", cap=0), READER)) == []
    assert len(_selected(iocd.outputs.select(edl("domain", cap=100), READER))) == 6


def test_expired_indicators_leave_and_move_the_sequence(iocd: Instance) -> None:
    add(iocd, "short.example", expires="2030-01-01T12:05:00Z")
    add(iocd, "long.example")
    before, _ = iocd.outputs.version()
    assert values(iocd, edl("domain")) == ["short.example", "long.example"]
    clock = iocd.clock
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(minutes=10))
    assert values(iocd, edl("domain")) == ["long.example"]
    assert iocd.outputs.version()[0] > before


def test_only_callers_who_see_everything_read_outputs(iocd: Instance) -> None:
    add(iocd, "evil.example")
    own_only = Principal(
        "app", Role.SECURITY_ADMINISTRATOR, "PublicApi", PrincipalKind.APPLICATION, own_only=True
    )
    for principal in (ANALYST, own_only):
        with pytest.raises(Forbidden, match="cannot read every indicator"):
            iocd.outputs.select(edl("domain"), principal)
    assert values(iocd, edl("domain"), ADMIN) == ["evil.example"]


def test_bad_requests_name_the_choices() -> None:
    with pytest.raises(InvalidInput, match="unknown EDL type 'ipv4'; expected one of ip, domain"):
        edl("ipv4")
    with pytest.raises(InvalidInput, match="unknown Suricata list 'x'"):
        OutputRequest(OutputKind.SURICATA_LIST, "x")
    with pytest.raises(InvalidInput, match="cap"):
        edl("ip", cap=-1)
    with pytest.raises(InvalidInput, match="rules or dataset"):
        OutputRequest(OutputKind.SURICATA, suricata_domains="both")
