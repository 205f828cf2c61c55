"""A scan writes to the device registry only what a batch tells it that is new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from iocd.domain.devices import Device
from iocd.services.device_directory import RecordedDevices

T0 = datetime(2030, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_only_new_devices_wider_times_or_other_names_are_written_again() -> None:
    recorded = RecordedDevices()
    first = [Device("d1", T0, T0 + H, "host-1", "Servers"), Device("d2", T0, T0, "host-2", None)]
    assert recorded.news(first) == first
    recorded.written(first)
    inside = Device("d1", T0 + H / 2, T0 + H, "host-1", "Servers")
    wider = Device("d2", T0 - H, T0, "host-2", None)
    renamed = Device("d1", T0, T0, "host-1b", "Servers")
    unnamed = Device("d2", T0, T0, None, None)  # None keeps what is known
    assert recorded.news([inside, wider, renamed, unnamed]) == [wider, renamed]


def test_it_forgets_everything_when_full() -> None:
    recorded = RecordedDevices()
    recorded.LIMIT = 2
    devices = [Device(f"d{n}", T0, T0) for n in range(3)]
    recorded.written(devices[:2])
    assert recorded.news(devices[:2]) == []
    recorded.written(devices[2:])
    assert recorded.news(devices[:2]) == devices[:2]
