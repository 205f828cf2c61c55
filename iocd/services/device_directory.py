"""Devices in the detection engine: the device group of each event's device, and the devices a
scanned batch shows (for the device registry)."""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from iocd.clock import Clock
from iocd.domain.accounts import UNGROUPED, DeviceGroup
from iocd.domain.devices import Device, widen_device
from iocd.domain.instants import from_micros
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
        index = batch.schema.get_field_index("device_group")
        if not self.groups():  # no groups defined: every device is ungrouped
            ungrouped = pa.array([UNGROUPED], pa.string())
            codes = pa.array(np.zeros(batch.num_rows, dtype=np.int32))
            return batch.set_column(index, "device_group", ungrouped.take(codes))
        names = batch.column("device_name")
        key = pc.if_else(pc.is_null(names), batch.column("device_id"), names)
        encoded = key.dictionary_encode()
        groups = pa.array(
            [self.group_of(str(v)) for v in encoded.dictionary.to_pylist()], pa.string()
        )
        return batch.set_column(index, "device_group", groups.take(encoded.indices))


DeviceCodes = tuple[list[str], npt.NDArray[np.int64]]
"""A batch's distinct device ids, and each row's index among them."""


def device_codes(batch: pa.RecordBatch) -> DeviceCodes:
    encoded = batch.column("device_id").dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return encoded.dictionary.to_pylist(), codes


def devices_of(batch: pa.RecordBatch, coded: DeviceCodes) -> list[Device]:
    """One Device per device id of the batch (`coded` is its `device_codes`), spanning its
    times, named and grouped as its last row is (over arrays: one Python step per device)."""
    if not batch.num_rows:
        return []
    ids, codes = coded
    times = batch.column("time").cast(pa.int64()).to_numpy(zero_copy_only=False)
    first = np.full(len(ids), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(ids), np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, codes, times)
    np.maximum.at(last, codes, times)
    last_row = np.zeros(len(ids), dtype=np.int64)
    np.maximum.at(last_row, codes, np.arange(batch.num_rows, dtype=np.int64))
    at = pa.array(last_row)
    names = batch.column("device_name").take(at).to_pylist()
    groups = batch.column("device_group").take(at).to_pylist()
    return [
        Device(i, from_micros(f), from_micros(t), n, g)
        for i, f, t, n, g in zip(ids, first.tolist(), last.tolist(), names, groups, strict=True)
    ]


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
