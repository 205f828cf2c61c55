"""Devices in the detection engine: the device group of each event's device, and the devices a
scanned batch shows (for the device registry)."""

from __future__ import annotations

import time

import pyarrow as pa
import pyarrow.compute as pc

from iocd.clock import Clock
from iocd.domain.accounts import UNGROUPED, DeviceGroup
from iocd.domain.devices import Device, widen_device
from iocd.policy.groups import DeviceFacts, group_for
from iocd.services.ports import Store

GROUPS_TTL_SECONDS = 2.0


class DeviceDirectory:
    """Which device group each device is in: the group rules applied to what the device is
    known by (its name). Group definitions are re-read at most every two seconds."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._groups: list[DeviceGroup] = []
        self._read_at: float | None = None
        self._cache: dict[str, str] = {}

    def groups(self) -> list[DeviceGroup]:
        now = time.monotonic()  # a cache lifetime, not domain time (test clocks stand still)
        if self._read_at is None or now - self._read_at > GROUPS_TTL_SECONDS:
            with self._store.accounts(readonly=True) as tx:
                fresh = tx.list_groups()
            if fresh != self._groups:
                self._cache = {}
            self._groups, self._read_at = fresh, now
        return self._groups

    def group_of(self, device_name: str) -> str:
        groups = self.groups()
        found = self._cache.get(device_name)
        if found is None:
            found = group_for(DeviceFacts(name=device_name), groups) if groups else UNGROUPED
            self._cache[device_name] = found
        return found

    def with_groups(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch with `device_group` filled in from each row's device name (or id when it
        has no name); computed once per distinct device, then taken columnar."""
        names = batch.column("device_name")
        key = pc.if_else(pc.is_null(names), batch.column("device_id"), names)
        encoded = key.dictionary_encode()
        groups = pa.array(
            [self.group_of(str(v)) for v in encoded.dictionary.to_pylist()], pa.string()
        )
        index = batch.schema.get_field_index("device_group")
        return batch.set_column(index, "device_group", groups.take(encoded.indices))


def devices_of(batch: pa.RecordBatch) -> list[Device]:
    """One Device per device id of the batch, spanning its times (computed columnar)."""
    table = pa.Table.from_batches([batch]).select(
        ["device_id", "device_name", "device_group", "time"]
    )
    grouped = table.group_by("device_id", use_threads=False).aggregate(
        [("time", "min"), ("time", "max"), ("device_name", "last"), ("device_group", "last")]
    )
    columns = (
        grouped.column(name).to_pylist()
        for name in ("device_id", "time_min", "time_max", "device_name_last", "device_group_last")
    )
    return [Device(*row) for row in zip(*columns, strict=True)]


class RecordedDevices:
    """What this process has written to the device registry, so a scan writes only devices
    a batch tells something new about (a new device, wider times, another name or group).

    Safe beside other writers: the registry only widens times and replaces given fields, so
    what was written here stays true there unless a name or group changed, and then the next
    batch showing the device writes it again. Bounded; forgets everything when full.
    """

    LIMIT = 100_000

    def __init__(self) -> None:
        self._known: dict[str, Device] = {}

    def news(self, devices: list[Device]) -> list[Device]:
        """The devices whose record would change."""
        fresh = []
        for device in devices:
            known = self._known.get(device.device_id)
            if known is None or widen_device(known, device) != known:
                fresh.append(device)
        return fresh

    def written(self, devices: list[Device]) -> None:
        """Remember devices once their write has committed."""
        if len(self._known) + len(devices) > self.LIMIT:
            self._known.clear()
        for device in devices:
            known = self._known.get(device.device_id)
            self._known[device.device_id] = device if known is None else widen_device(known, device)
