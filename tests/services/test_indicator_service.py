"""The indicator use cases over the in-memory store (the contract suite shows SQL agrees)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from iocd.clock import FixedClock
from iocd.domain.decision import Authority
from iocd.domain.drafts import build_fields
from iocd.domain.history import ChangeKind
from iocd.domain.indicator import IndicatorDraft, IndicatorFields
from iocd.domain.principal import Principal, PrincipalKind, Role
from iocd.domain.query import IndicatorQuery
from iocd.domain.types import IndicatorState
from iocd.domain.wire import indicator_to_wire
from iocd.errors import (
    CapacityExceeded,
    Conflict,
    Forbidden,
    GuardrailRefused,
    InvalidInput,
    NotFound,
)
from iocd.services.indicators import IndicatorService, Limits
from iocd.services.submission import Outcome
from iocd.store.memory import MemoryStore

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
ADMIN = Principal("alice", Role.GLOBAL_ADMINISTRATOR, "Cli")


def refuse_loopback(fields: IndicatorFields) -> str | None:
    if fields.action.blocks and fields.value.startswith("127."):
        return f"{fields.value} is a loopback address"
    return None


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def service(clock: FixedClock) -> IndicatorService:
    return IndicatorService(MemoryStore(), clock, refuse_loopback, Limits(max_active=5))


def ip(value: str = "203.0.113.7", **extra: object) -> IndicatorFields:
    args: dict[str, object] = {
        "indicator_type": "IpAddress",
        "value": value,
        "action": "Block",
        "title": "C2 server",
        "description": "Seen in campaign X",
    }
    args.update(extra)
    return build_fields(**args)  # type: ignore[arg-type]


def submit(
    service: IndicatorService, fields: IndicatorFields, who: Principal = ADMIN, **kw: object
):
    return service.submit(IndicatorDraft(fields, **kw), who)  # type: ignore[arg-type]


def test_same_identity_updates_and_identical_resubmit_is_a_no_op(service: IndicatorService) -> None:
    first = submit(service, ip())
    again = submit(service, ip())
    changed = submit(service, ip(action="Warn"))
    assert (first.outcome, again.outcome, changed.outcome) == (
        Outcome.CREATED,
        Outcome.UNCHANGED,
        Outcome.UPDATED,
    )
    assert first.indicator and changed.indicator
    assert changed.indicator.id == first.indicator.id
    assert [c.kind for c in service.changes_since(0)] == [ChangeKind.CREATED, ChangeKind.UPDATED]
    assert [e.action for e in service.history(first.indicator.id, ADMIN)] == ["created", "updated"]


def test_device_groups_are_part_of_identity(service: IndicatorService) -> None:
    everywhere = submit(service, ip()).indicator
    scoped = submit(service, ip(rbac_group_names=["Servers"])).indicator
    assert everywhere and scoped and everywhere.id != scoped.id


def test_update_by_id_and_by_external_id(service: IndicatorService) -> None:
    original = submit(service, ip(external_id="feed-1")).indicator
    assert original
    by_id = submit(service, ip("198.51.100.1", external_id="feed-1"), target_id=original.id)
    by_id = by_id.indicator
    assert by_id and by_id.id == original.id and by_id.fields.value == "198.51.100.1"
    by_external = submit(service, ip("198.51.100.2", external_id="feed-1")).indicator
    assert by_external and by_external.id == original.id
    with pytest.raises(NotFound):
        submit(service, ip(), target_id=999)


def test_update_by_id_cannot_take_another_indicators_identity(service: IndicatorService) -> None:
    a = submit(service, ip("198.51.100.1")).indicator
    submit(service, ip("198.51.100.2"))
    assert a
    with pytest.raises(Conflict):
        submit(service, ip("198.51.100.2"), target_id=a.id)


def test_expiry_takes_effect_at_the_second_and_sweeper_records_it(
    service: IndicatorService, clock: FixedClock
) -> None:
    expiry = T0 + timedelta(seconds=10)
    created = submit(service, ip(expiration_time=expiry)).indicator
    assert created
    clock.set(expiry - timedelta(microseconds=1))
    assert len(service.list(IndicatorQuery(), ADMIN).items) == 1
    clock.set(expiry)
    assert service.list(IndicatorQuery(), ADMIN).items == []
    assert service.get(created.id, ADMIN).state is IndicatorState.EXPIRED
    assert service.sweep_expired() == 1
    assert service.sweep_expired() == 0
    assert service.changes_since(0)[-1].kind is ChangeKind.EXPIRED
    assert service.changes_since(0)[-1].at == expiry


def test_resubmitting_an_expired_identity_creates_a_new_indicator(
    service: IndicatorService, clock: FixedClock
) -> None:
    old = submit(service, ip(expiration_time=T0 + timedelta(hours=1))).indicator
    clock.advance(timedelta(hours=2))
    new = submit(service, ip()).indicator
    assert old and new and new.id != old.id
    kinds = [c.kind for c in service.changes_since(0)]
    assert kinds == [ChangeKind.CREATED, ChangeKind.EXPIRED, ChangeKind.CREATED]


def test_expiry_in_the_past_is_refused(service: IndicatorService) -> None:
    with pytest.raises(InvalidInput, match="expirationTime"):
        submit(service, ip(expiration_time=T0 - timedelta(seconds=1)))


def test_cap_refuses_creates_but_not_updates(service: IndicatorService) -> None:
    results = service.import_batch([IndicatorDraft(ip(f"198.51.100.{n}")) for n in range(7)], ADMIN)
    assert [r.outcome for r in results].count(Outcome.CREATED) == 5
    assert all(isinstance(r.error, CapacityExceeded) for r in results[5:])
    assert submit(service, ip("198.51.100.0", action="Warn")).outcome is Outcome.UPDATED


def test_guardrail_refuses_unless_overridden_with_justification(service: IndicatorService) -> None:
    with pytest.raises(GuardrailRefused, match="loopback"):
        submit(service, ip("127.0.0.2"))
    assert submit(service, ip("127.0.0.2", action="Audit")).outcome is Outcome.CREATED
    with pytest.raises(InvalidInput, match="justification"):
        submit(service, ip("127.0.0.3"), override_justification="  ")
    stored = submit(service, ip("127.0.0.3"), override_justification="lab test box").indicator
    assert stored and stored.override_justification == "lab test box"
    assert service.history(stored.id, ADMIN)[0].justification == "lab test box"


def test_batch_items_fail_alone_and_duplicates_collapse(service: IndicatorService) -> None:
    results = service.import_batch(
        [
            IndicatorDraft(ip("198.51.100.1")),
            IndicatorDraft(ip("127.0.0.1")),
            IndicatorDraft(ip("198.51.100.1", title="renamed")),
        ],
        ADMIN,
    )
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.FAILED, Outcome.CREATED]
    assert results[0].indicator == results[2].indicator
    assert results[2].indicator and results[2].indicator.fields.title == "renamed"


def test_batch_size_limit(service: IndicatorService) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.import_batch([IndicatorDraft(ip())] * 3, ADMIN, max_batch=2)
    assert caught.value.code == "MaximumBatchSizeExceeded"


ANALYST = Principal("bob", Role.ANALYST, "PublicApi", device_groups=frozenset({"Servers"}))
READER = Principal("carol", Role.READ_ONLY, "PublicApi")


def test_analyst_confined_to_own_groups_and_denials_are_audited(service: IndicatorService) -> None:
    mine = submit(service, ip(rbac_group_names=["Servers"]), ANALYST).indicator
    theirs = submit(service, ip(rbac_group_names=["Laptops"])).indicator
    submit(service, ip("198.51.100.9"))
    assert mine and theirs
    with pytest.raises(Forbidden, match="all devices"):
        submit(service, ip("198.51.100.10"), ANALYST)
    with pytest.raises(Forbidden, match="outside the scope"):
        submit(service, ip(rbac_group_names=["Laptops"], action="Warn"), ANALYST)
    assert [i.id for i in service.list(IndicatorQuery(), ANALYST).items] == [mine.id]
    with pytest.raises(Forbidden):
        service.get(theirs.id, ANALYST)
    with pytest.raises(Forbidden):
        service.delete(theirs.id, ANALYST)
    assert [e.action for e in service.history(theirs.id, ADMIN)] == ["created", "denied", "denied"]
    assert service.get(theirs.id, ADMIN).is_active(T0)


def test_read_only_cannot_write(service: IndicatorService) -> None:
    with pytest.raises(Forbidden, match="read-only"):
        submit(service, ip(), READER)
    stored = submit(service, ip()).indicator
    assert stored
    with pytest.raises(Forbidden):
        service.delete(stored.id, READER)


def test_own_only_application_sees_only_its_indicators(service: IndicatorService) -> None:
    app = Principal(
        "client-1",
        Role.SECURITY_ADMINISTRATOR,
        "PublicApi",
        kind=PrincipalKind.APPLICATION,
        own_only=True,
    )
    submit(service, ip("198.51.100.1"))
    mine = submit(service, ip("198.51.100.2"), app).indicator
    assert mine and mine.created_by == "client-1" and mine.source_type == "AadApp"
    assert [i.id for i in service.list(IndicatorQuery(), app).items] == [mine.id]


def test_batch_delete_is_all_or_nothing(service: IndicatorService) -> None:
    a = submit(service, ip("198.51.100.1")).indicator
    b = submit(service, ip("198.51.100.2")).indicator
    assert a and b
    with pytest.raises(NotFound):
        service.delete_many([a.id, 12345], ADMIN)
    assert len(service.list(IndicatorQuery(), ADMIN).items) == 2
    service.delete_many([a.id, b.id], ADMIN)
    assert service.list(IndicatorQuery(), ADMIN).items == []
    assert service.get(a.id, ADMIN).state is IndicatorState.DELETED
    page = service.list(IndicatorQuery(include_inactive=True), ADMIN)
    assert {i.state for i in page.items} == {IndicatorState.DELETED}
    with pytest.raises(NotFound):
        service.delete(a.id, ADMIN)


def test_sequence_is_gap_free_across_kinds(service: IndicatorService, clock: FixedClock) -> None:
    a = submit(service, ip("198.51.100.1", expiration_time=T0 + timedelta(minutes=1))).indicator
    b = submit(service, ip("198.51.100.2")).indicator
    assert a and b
    submit(service, dataclasses.replace(b.fields, title="x"))
    service.delete(b.id, ADMIN)
    clock.advance(timedelta(minutes=2))
    service.sweep_expired()
    assert [c.sequence for c in service.changes_since(0)] == [1, 2, 3, 4, 5]
    assert service.last_sequence() == 5


def test_paging_reports_more(service: IndicatorService) -> None:
    service.import_batch([IndicatorDraft(ip(f"198.51.100.{n}")) for n in range(5)], ADMIN)
    first = service.list(IndicatorQuery(top=2), ADMIN)
    last = service.list(IndicatorQuery(top=2, skip=4), ADMIN)
    assert first.has_more and not last.has_more and len(last.items) == 1
    assert service.list(IndicatorQuery(top=2), ADMIN, count=True).total == 5


def test_authority_comes_from_the_creator_and_survives_updates(service: IndicatorService) -> None:
    app = Principal("client-2", Role.SECURITY_ADMINISTRATOR, "PublicApi", PrincipalKind.APPLICATION)
    by_analyst = submit(service, ip("198.51.100.20", rbac_group_names=["Servers"]), ANALYST)
    by_admin = submit(service, ip("198.51.100.21"))
    by_app = submit(service, ip("198.51.100.22"), app)
    assert by_analyst.indicator and by_admin.indicator and by_app.indicator
    assert by_analyst.indicator.authority is Authority.GROUP
    assert by_admin.indicator.authority is Authority.ORGANISATION
    assert by_app.indicator.authority is Authority.ORGANISATION
    # An administrator editing the analyst's indicator does not make it organisation-wide.
    edited = submit(service, ip("198.51.100.20", rbac_group_names=["Servers"], action="Warn"))
    assert edited.outcome is Outcome.UPDATED and edited.indicator
    assert edited.indicator.id == by_analyst.indicator.id
    assert edited.indicator.authority is Authority.GROUP
    assert indicator_to_wire(edited.indicator)["authority"] == "Group"
    assert indicator_to_wire(by_app.indicator)["authority"] == "Organisation"
