"""The demo data set: pure, reproducible, and shaped as promised (services.demo)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from iocd.domain.types import Action, IndicatorType
from iocd.domain.values import normalise
from iocd.services.demo import DemoSize, generate

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
SIZE = DemoSize(indicators=400, devices=30, events=6000)


def test_the_same_seed_gives_the_same_data_set() -> None:
    one, two = generate(NOW, SIZE), generate(NOW, SIZE)
    assert [i.draft for i in one.intel] == [i.draft for i in two.intel]
    assert one.events == two.events
    other = generate(NOW, DemoSize(indicators=400, devices=30, events=6000, seed=1))
    assert [i.draft for i in other.intel] != [i.draft for i in one.intel]


def test_indicators_of_every_type_and_action_with_real_looking_intel() -> None:
    data = generate(NOW, SIZE)
    fields = [i.draft.fields for i in data.intel]
    assert len(fields) == 400
    assert {f.indicator_type for f in fields} == set(IndicatorType)
    assert set(Action) <= {f.action for f in fields}
    assert sum(f.action is Action.ALLOWED for f in fields) == 1
    assert len({(f.indicator_type, f.value) for f in fields}) == len(fields)
    assert any(f.rbac_group_names for f in fields)
    soon = [f for f in fields if f.expiration_time and f.expiration_time < NOW + timedelta(7)]
    assert soon
    assert all(f.title and f.description for f in fields)
    assert all(f.category and f.mitre_techniques for f in fields if f.action is not Action.ALLOWED)
    assert all(normalise(f.indicator_type, f.value) == f.value for f in fields)


def test_a_day_of_telemetry_over_the_fleet_with_some_matches() -> None:
    data = generate(NOW, SIZE)
    assert len(data.devices) == 30
    assert len({d.name for d in data.devices}) == 30
    assert len(data.events) == 6000
    assert all(NOW - timedelta(hours=24) <= e.time < NOW for e in data.events)
    assert [e.time for e in data.events] == sorted(e.time for e in data.events)
    kinds = Counter(e.kind for e in data.events)
    assert len(kinds) == 7
    values = {f.value for f in (i.draft.fields for i in data.intel)}
    seen = {
        v
        for e in data.events
        for v in (e.sha256, e.sha1, e.md5, e.signer_thumbprint, e.remote_ip, e.domain, e.url)
        if v in values
    }
    assert len(seen) >= len(IndicatorType)
    assert {g[0] for g in data.groups} >= {"Servers", "Laptops", "Finance"}
