"""The TAXII use cases over the in-memory store: collections, paging, added_after, versions of
withdrawn indicators, writes and statuses. The HTTP door is tested in tests/api/test_taxii.py."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from iocd.clock import FixedClock
from iocd.codecs.stix_export import stix_id
from iocd.codecs.stix_ids import StixIdDirectory
from iocd.domain.drafts import build_fields
from iocd.domain.history import Change, ChangeKind
from iocd.domain.indicator import IndicatorDraft, IndicatorFields
from iocd.domain.principal import Principal, Role
from iocd.domain.types import Action
from iocd.domain.versions import Version
from iocd.errors import Forbidden, InvalidInput, NotFound
from iocd.services.indicators import IndicatorService
from iocd.services.taxii import (
    EXPIRY_GRACE,
    Filters,
    PageRequest,
    Submitted,
    TaxiiService,
    can_write,
)
from iocd.services.taxii_collections import COLLECTIONS, find_collection, modified_of
from iocd.store.memory import MemoryStore
from tests.factories import make_indicator

T0 = datetime(2030, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
ADMIN = Principal("alice", Role.GLOBAL_ADMINISTRATOR, "Taxii")
READER = Principal("rita", Role.READ_ONLY, "Taxii")
ALL, BLOCK, AUDIT = find_collection("all"), find_collection("block"), find_collection("audit")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def indicators(store: MemoryStore, clock: FixedClock) -> IndicatorService:
    return IndicatorService(store, clock, lambda fields: None)


@pytest.fixture
def taxii(store: MemoryStore, indicators: IndicatorService, clock: FixedClock) -> TaxiiService:
    return TaxiiService(store, indicators, clock, StixIdDirectory())


def ip(n: int, action: str = "Block", **extra: object) -> IndicatorFields:
    return build_fields(
        indicator_type="IpAddress",
        value=f"198.51.100.{n}",
        action=action,
        title=f"C2 {n}",
        description="seen",
        **extra,  # type: ignore[arg-type]
    )


def submit(indicators: IndicatorService, *fields: IndicatorFields) -> list[int]:
    results = indicators.import_batch([IndicatorDraft(f) for f in fields], ADMIN)
    return [r.indicator.id for r in results if r.indicator is not None]


def ids_of(taxii: TaxiiService, request: PageRequest, collection=ALL) -> list[int]:  # type: ignore[no-untyped-def]
    page = taxii.page(collection, request, ADMIN)
    return [s.version.indicator.id for s in page.items]


def test_collections_have_stable_ids_and_aliases() -> None:
    assert [c.alias for c in COLLECTIONS] == [
        "all",
        "allowed",
        "audit",
        "warn",
        "block",
        "block-and-remediate",
    ]
    assert find_collection(BLOCK.id) is BLOCK
    assert uuid.UUID(BLOCK.id).version == 5
    assert len({c.id for c in COLLECTIONS}) == 6
    with pytest.raises(NotFound):
        find_collection("nope")


def test_pages_follow_the_change_sequence(taxii: TaxiiService, indicators: IndicatorService):  # type: ignore[no-untyped-def]
    first, second, third = submit(indicators, ip(1), ip(2), ip(3))
    indicators.submit(IndicatorDraft(ip(1, severity="High")), ADMIN)  # 1 moves to the end
    page = taxii.page(ALL, PageRequest(limit=2), ADMIN)
    assert [s.version.indicator.id for s in page.items] == [second, third]
    assert page.more and page.next is not None
    rest = taxii.page(ALL, PageRequest(after=page.next, limit=2), ADMIN)
    assert [s.version.indicator.id for s in rest.items] == [first]
    assert not rest.more and rest.next is None


def test_action_collections_and_limits(taxii: TaxiiService, indicators: IndicatorService):  # type: ignore[no-untyped-def]
    blocked, audited = submit(indicators, ip(1), ip(2, "Audit"))
    assert ids_of(taxii, PageRequest(), BLOCK) == [blocked]
    assert ids_of(taxii, PageRequest(), AUDIT) == [audited]
    with pytest.raises(InvalidInput):
        taxii.page(ALL, PageRequest(limit=0), ADMIN)


def test_added_after_finds_its_start_by_bisection(  # type: ignore[no-untyped-def]
    taxii: TaxiiService, indicators: IndicatorService, clock: FixedClock
):
    early = submit(indicators, *(ip(n) for n in range(1, 40)))
    clock.advance(timedelta(hours=3))
    later = submit(indicators, ip(50), ip(51))
    assert ids_of(taxii, PageRequest(Filters(added_after=T0))) == later
    assert ids_of(taxii, PageRequest(Filters(added_after=T0 - timedelta(seconds=1)))) == [
        *early,
        *later,
    ]
    assert ids_of(taxii, PageRequest(Filters(added_after=clock.now()))) == []


def test_withdrawn_indicators_are_revoked_versions(  # type: ignore[no-untyped-def]
    taxii: TaxiiService, indicators: IndicatorService, clock: FixedClock
):
    expiry = T0 + timedelta(minutes=10)
    kept, deleted, expiring = submit(indicators, ip(1), ip(2), ip(3, expiration_time=expiry))
    clock.advance(timedelta(minutes=1))
    indicators.delete(deleted, ADMIN)
    clock.advance(timedelta(minutes=20))
    indicators.sweep_expired()
    served = taxii.page(ALL, PageRequest(), ADMIN).items
    assert [(s.version.indicator.id, s.withdrawn) for s in served] == [
        (kept, False),
        (deleted, True),
        (expiring, True),
    ]
    assert served[1].modified > T0 and served[2].modified == expiry.replace(microsecond=123000)
    # A reader that polled just after the expiry's time, before the sweep recorded it, still
    # hears of it: expiries within EXPIRY_GRACE before added_after are served again.
    polled = PageRequest(Filters(added_after=expiry + EXPIRY_GRACE / 2))
    assert ids_of(taxii, polled) == [expiring]


def test_modified_of_a_withdrawal_is_always_newer() -> None:
    indicator = make_indicator(1, at=T0)
    gone = replace(indicator, state=indicator.state.DELETED)
    same_instant = Version(gone, Change(2, 1, ChangeKind.DELETED, T0))
    assert modified_of(same_instant) == T0.replace(microsecond=124000)
    assert modified_of(Version(indicator, Change(1, 1, ChangeKind.CREATED, T0))) == T0.replace(
        microsecond=123000
    )


def test_match_filters(taxii: TaxiiService, indicators: IndicatorService) -> None:
    one, two = submit(indicators, ip(1), ip(2))
    by_id = PageRequest(Filters(ids=(stix_id(two), "indicator--not-a-uuid")))
    assert ids_of(taxii, by_id) == [two]
    assert ids_of(taxii, PageRequest(Filters(ids=("indicator--not-a-uuid",)))) == []
    assert ids_of(taxii, PageRequest(Filters(types=("malware",)))) == []
    assert ids_of(taxii, PageRequest(Filters(types=("indicator", "malware")))) == [one, two]
    assert ids_of(taxii, PageRequest(Filters(spec_versions=("2.0",)))) == []
    version = T0.replace(microsecond=123999)  # the same millisecond
    assert ids_of(taxii, PageRequest(Filters(version_times=(version,)))) == [one, two]
    assert ids_of(taxii, PageRequest(Filters(version_times=(T0 + timedelta(1),)))) == []
    assert ids_of(taxii, PageRequest(Filters(version_keywords=frozenset({"first"})))) == [
        one,
        two,
    ]


def test_one_object_and_scope(taxii: TaxiiService, indicators: IndicatorService) -> None:
    (grouped,) = submit(indicators, ip(1, rbac_group_names=["Servers"]))
    (everywhere,) = submit(indicators, ip(2))
    analyst = Principal("ann", Role.ANALYST, "Taxii", device_groups=frozenset({"Servers"}))
    page = taxii.object(ALL, stix_id(grouped), PageRequest(), analyst)
    assert [s.version.indicator.id for s in page.items] == [grouped]
    with pytest.raises(Forbidden):
        taxii.object(ALL, stix_id(everywhere), PageRequest(), analyst)
    with pytest.raises(NotFound):
        taxii.object(AUDIT, stix_id(grouped), PageRequest(), ADMIN)
    with pytest.raises(NotFound):
        taxii.object(ALL, stix_id(999), PageRequest(), ADMIN)
    assert ids_of(taxii, PageRequest()) == [grouped, everywhere]
    assert [s.version.indicator.id for s in taxii.page(ALL, PageRequest(), analyst).items] == [
        grouped
    ]


def test_add_reports_each_object_and_keeps_the_status(  # type: ignore[no-untyped-def]
    taxii: TaxiiService, indicators: IndicatorService
):
    objects = [
        Submitted("indicator--1", "v1", (ip(1),)),
        Submitted("indicator--2", "v2", (ip(2), "value: not an address")),
        Submitted("identity--3", "v3", failure="not an indicator"),
        Submitted("indicator--4", "v4", ()),
    ]
    status = taxii.add(BLOCK, objects, ADMIN)
    assert [o.stix_id for o in status.successes] == ["indicator--1"]
    assert [(o.stix_id, o.message) for o in status.failures] == [
        ("indicator--2", "value: not an address"),
        ("identity--3", "not an indicator"),
        ("indicator--4", "the object names no indicator"),
    ]
    assert status.total == 4
    assert taxii.status(status.id, ADMIN) == status
    with pytest.raises(NotFound):
        taxii.status(status.id, READER)
    with pytest.raises(Forbidden):
        taxii.add(BLOCK, objects, READER)
    assert not can_write(READER) and can_write(ADMIN)


def test_delete_makes_a_revoked_version(taxii: TaxiiService, indicators: IndicatorService):  # type: ignore[no-untyped-def]
    (one,) = submit(indicators, ip(1))
    with pytest.raises(NotFound):
        taxii.delete(AUDIT, stix_id(one), ADMIN)
    taxii.delete(BLOCK, stix_id(one), ADMIN)
    (served,) = taxii.page(BLOCK, PageRequest(), ADMIN).items
    assert served.withdrawn and served.version.indicator.fields.action is Action.BLOCK


def test_statuses_are_bounded(
    store: MemoryStore, indicators: IndicatorService, clock: FixedClock
) -> None:
    taxii = TaxiiService(store, indicators, clock, StixIdDirectory(), kept_statuses=2)
    made = [taxii.add(ALL, [Submitted("indicator--x", "v", (ip(n),))], ADMIN) for n in (1, 2, 3)]
    with pytest.raises(NotFound):
        taxii.status(made[0].id, ADMIN)
    assert taxii.status(made[2].id, ADMIN).successes


def test_stix_id_directory_reverses_stix_ids() -> None:
    directory = StixIdDirectory()
    assert directory.indicator_id(stix_id(7), 10) == 7
    assert directory.indicator_id(stix_id(11), 10) is None  # beyond the newest id
    assert directory.indicator_id(stix_id(11), 20) == 11
    assert directory.indicator_id(stix_id(7).upper().replace("INDICATOR", "indicator"), 20) == 7
    assert directory.indicator_id("malware--" + stix_id(7).partition("--")[2], 20) is None
    assert directory.indicator_id("indicator--zzz", 20) is None
