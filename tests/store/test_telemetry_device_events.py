"""`TelemetryStore.device_events` over both stores: the device's rows since a time, newest
first, at most `limit`, also across compacted files and several days."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from iocd.errors import InvalidInput
from iocd.services.telemetry_port import TelemetryStore
from iocd.store.memory_telemetry import MemoryTelemetryStore
from iocd.store.telemetry import ParquetTelemetryStore
from tests.store.test_telemetry_store import DAY, T, events, row


@pytest.fixture(params=["memory", "parquet"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TelemetryStore:
    if request.param == "memory":
        return MemoryTelemetryStore()
    return ParquetTelemetryStore(tmp_path / "telemetry")


def _times(store: TelemetryStore, device: str, since_hours: int, limit: int) -> list[int]:
    table = store.device_events(device, T - timedelta(hours=since_hours), limit)
    return [int((T - t).total_seconds() // 3600) for t in table.column("time").to_pylist()]


def test_newest_first_within_the_window_and_limit(store: TelemetryStore) -> None:
    store.append(events(*(row("laptop", T - timedelta(hours=h)) for h in (5, 1, 30, 3))))
    store.append(events(row("other", T), row("laptop", T - timedelta(hours=2))))
    assert _times(store, "laptop", 48, 10) == [1, 2, 3, 5, 30]
    assert _times(store, "laptop", 4, 10) == [1, 2, 3]
    assert _times(store, "laptop", 48, 2) == [1, 2]
    assert _times(store, "nobody", 48, 10) == []
    table = store.device_events("other", T - timedelta(days=1), 5)
    assert table.column("device_id").to_pylist() == ["other"]


def test_after_compaction_and_across_days(store: TelemetryStore) -> None:
    for h in range(0, 72, 6):
        store.append(events(row("server", T - timedelta(hours=h)), row("x", T)))
    for back in range(4):
        store.compact(DAY - timedelta(days=back))
    assert _times(store, "server", 100, 3) == [0, 6, 12]
    assert len(_times(store, "server", 100, 100)) == 12


def test_since_must_be_aware(store: TelemetryStore) -> None:
    with pytest.raises(InvalidInput):
        store.device_events("x", T.replace(tzinfo=None), 5)
