"""Agents: enrolment tokens, enrolment, status, policy sync (snapshot, deltas, digests) and
reports, over the composed services with the in-memory store and a clock the tests move."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from iocd.clock import FixedClock
from iocd.compose import Instance, build
from iocd.config import Settings
from iocd.domain.accounts import UNGROUPED, GroupRules
from iocd.domain.agents import DeviceReport
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import IndicatorDraft
from iocd.domain.principal import Principal, Role
from iocd.domain.telemetry import EventKind, TelemetryEvent
from iocd.errors import Forbidden, InvalidInput
from iocd.matching.snapshot import (
    apply_update,
    entry_hash,
    snapshot_digest,
    snapshot_listed,
    xor_digest,
)
from iocd.services.accounts import Unauthorized
from iocd.services.agent_reports import AgentAlert
from iocd.services.agents import AgentStatus
from iocd.services.credentials import HashCost
from tests.factories import T0

ADMIN = Principal("root", Role.GLOBAL_ADMINISTRATOR, "Cli")
ANALYST = Principal("ann", Role.ANALYST, "Cli", device_groups=frozenset({"Servers"}))
HOST = DeviceReport("web-1", "Linux", "corp.example", ("prod",), "1.0")


@pytest.fixture
def iocd(tmp_path: Path) -> Instance:
    settings = Settings(data_dir=tmp_path, database_url="memory://")
    instance = build(settings, clock=FixedClock(T0), hash_cost=HashCost(1, 8, 1))
    instance.accounts.create_group("Servers", None, GroupRules(tags=("prod",)), ADMIN)
    instance.accounts.create_group("Lab", None, GroupRules(names=("lab-*",)), ADMIN)
    return instance


def submit(iocd: Instance, n: int, *groups: str, target: int | None = None, **extra: object) -> int:
    fields = build_fields(
        indicator_type="FileSha256",
        value=f"{n:064x}",
        action=extra.pop("action", "Block"),
        title="t",
        description="d",
        rbac_group_names=groups,
        **extra,  # type: ignore[arg-type]
    )
    result = iocd.indicators.submit(IndicatorDraft(fields, target), ADMIN)
    assert result.indicator is not None
    return result.indicator.id


def test_tokens_need_an_administrator_and_check_their_group(iocd: Instance) -> None:
    with pytest.raises(Forbidden):
        iocd.agents.create_enrollment_token(ANALYST)
    with pytest.raises(InvalidInput):
        iocd.agents.create_enrollment_token(ADMIN, group="Nope")
    with pytest.raises(InvalidInput):
        iocd.agents.create_enrollment_token(ADMIN, expires_in=timedelta(0))
    token, text = iocd.agents.create_enrollment_token(ADMIN, group="Lab", uses=1)
    assert text.startswith(f"iocd_enr_{token.token_id}_")
    assert token.secret_hash not in text and [t.token_id for t in
        iocd.agents.list_enrollment_tokens(ADMIN)] == [token.token_id]  # fmt: skip


def test_enrol_by_rules_or_bound_group_and_refuse_bad_tokens(iocd: Instance) -> None:
    clock = iocd.clock
    assert isinstance(clock, FixedClock)
    _, by_rules = iocd.agents.create_enrollment_token(ADMIN, uses=2)
    device, credential = iocd.agents.enroll(by_rules, HOST)
    assert device.group == "Servers" and not device.group_bound
    assert iocd.agents.authenticate_device(credential) == device
    assert iocd.alerts.device(device.device_id) is not None
    other, _ = iocd.agents.enroll(by_rules, DeviceReport("pc-9"))
    assert other.group == UNGROUPED
    with pytest.raises(Unauthorized):  # used up
        iocd.agents.enroll(by_rules, HOST)
    bound_token, bound = iocd.agents.create_enrollment_token(ADMIN, group="Lab")
    assert iocd.agents.enroll(bound, HOST)[0].group == "Lab"
    iocd.agents.revoke_enrollment_token(bound_token.token_id, ADMIN)
    with pytest.raises(Unauthorized):
        iocd.agents.enroll(bound, HOST)
    _, short = iocd.agents.create_enrollment_token(ADMIN, expires_in=timedelta(minutes=5))
    clock.advance(timedelta(minutes=6))
    with pytest.raises(Unauthorized):
        iocd.agents.enroll(short, HOST)
    with pytest.raises(Unauthorized):
        iocd.agents.enroll(by_rules[:-2] + "xx", HOST)
    with pytest.raises(Unauthorized):
        iocd.agents.authenticate_device(credential[:-2] + "xx")


def test_status_records_the_applied_policy_and_regroups(iocd: Instance) -> None:
    _, text = iocd.agents.create_enrollment_token(ADMIN)
    device, _ = iocd.agents.enroll(text, HOST)
    moved = iocd.agents.report_status(
        device,
        DeviceReport("lab-7", tags=()),
        AgentStatus(4, "ab" * 32, "alert-only", "nftables"),
    )
    assert moved.group == "Lab" and moved.applied_sequence == 4
    assert moved.file_enforcement == "alert-only"
    assert iocd.agents.list_agents(ADMIN) == [moved]
    assert iocd.alerts.device(device.device_id).group == "Lab"  # type: ignore[union-attr]


def test_deltas_follow_every_kind_of_change_and_match_the_snapshot(iocd: Instance) -> None:
    gateway = iocd.agent_policy
    everyone = submit(iocd, 1)
    servers = submit(iocd, 2, "Servers")
    lab = submit(iocd, 3, "Lab")
    moving = submit(iocd, 7, "Servers")
    snap = gateway.snapshot("Servers")
    view = {e.id: e for e in snapshot_listed(snap.payload)}
    assert set(view) == {everyone, servers, moving}
    assert snap.digest == snapshot_digest(snap.payload) == gateway.digest("Servers")[1]
    since = snap.sequence
    assert gateway.update("Servers", since).kind == "unchanged"

    clock = iocd.clock
    assert isinstance(clock, FixedClock)
    expiring = submit(iocd, 4, expiration_time=T0 + timedelta(minutes=1))
    submit(iocd, 1, action="Audit", generate_alert=True)  # update (same identity)
    iocd.indicators.delete(servers, ADMIN)
    submit(iocd, 3, "Lab", "Servers", target=lab)  # re-scoped into the view
    submit(iocd, 7, "Lab", target=moving)  # re-scoped away
    update = gateway.update("Servers", since)
    assert update.kind == "delta"
    view = apply_update(view, update)
    assert set(update.removals) == {servers, moving}
    assert lab in view
    assert expiring in view and view[everyone].action.value == "Audit"
    assert update.digest == xor_digest(entry_hash(e) for e in view.values())

    clock.advance(timedelta(minutes=2))
    expired = gateway.update("Servers", update.sequence)
    assert expired.removals == (expiring,)
    view = apply_update(view, expired)
    assert expired.digest == xor_digest(entry_hash(e) for e in view.values())
    fresh = gateway.snapshot("Servers")
    assert {e.id for e in snapshot_listed(fresh.payload)} == set(view)
    assert fresh.digest == expired.digest and fresh.sequence == expired.sequence

    assert gateway.update("Servers", -1).kind == "snapshot-required"
    assert gateway.update("Servers", expired.sequence + 5).kind == "snapshot-required"


def test_too_far_behind_needs_a_snapshot(iocd: Instance) -> None:
    from iocd.services.agent_policy import PolicyGateway

    gateway = PolicyGateway(iocd.store, iocd.clock, max_delta=2)
    for n in range(3):
        submit(iocd, 10 + n)
    assert gateway.update(UNGROUPED, 0).kind == "snapshot-required"
    assert gateway.update(UNGROUPED, 1).kind == "delta"


def test_reports_are_stored_once_and_alerts_rebuilt(iocd: Instance) -> None:
    _, text = iocd.agents.create_enrollment_token(ADMIN)
    device, _ = iocd.agents.enroll(text, HOST)
    blocked = submit(iocd, 5, action="Block", generate_alert=True)
    elsewhere = submit(iocd, 6, "Lab")
    event = TelemetryEvent(T0, EventKind.FILE, "spoofed", sha256=f"{5:064x}", file_path="/tmp/x")
    alerts = [
        AgentAlert(blocked, event),
        AgentAlert(elsewhere, TelemetryEvent(T0, EventKind.FILE, "x", sha256=f"{6:064x}")),
        AgentAlert(999, event),
    ]
    first = iocd.agent_reports.deliver(device, "b-1", lambda: [], alerts)
    assert not first.duplicate and first.alerts == 1 and len(first.rejected) == 2
    again = iocd.agent_reports.deliver(device, "b-1", lambda: [], alerts)
    assert again.duplicate and again.accepted == 0
    page = iocd.alerts.list(ADMIN, __import__("iocd.domain.alerts").domain.alerts.AlertQuery())
    assert [(a.indicator_id, a.machine_id, a.occurrences) for a in page.items] == [
        (blocked, device.device_id, 1)
    ]
