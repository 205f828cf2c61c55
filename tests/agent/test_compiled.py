"""The compiled-policy file (iocd.agent.compiled): an `.npz` of the server's saved-index format
whose array data is 64-byte aligned, mapped by the agent without a copy."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from iocd.agent.compiled import load_compiled, map_arrays, save_compiled, write_arrays
from iocd.matching.index import CompiledIndex, build
from iocd.matching.single import decide_event
from tests.agent.test_policy_cache import TYPES, indicator
from tests.matching.helpers import event

ARRAYS = {
    "ids": np.arange(1, 12, dtype=np.int32),
    "table.keys": np.arange(7, dtype=np.uint64) * np.uint64(2**40),
    "bytes": np.frombuffer(b"abcdefghijk", dtype=np.uint8),
    "empty": np.zeros(0, dtype=np.int64),
    "square": np.arange(12, dtype=np.int16).reshape(3, 4),
    "fortran": np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
}


def test_arrays_are_mapped_aligned_and_read_only(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    write_arrays(path, ARRAYS)
    mapped = map_arrays(path)
    assert list(mapped) == list(ARRAYS)
    for name, array in mapped.items():
        assert array.dtype == ARRAYS[name].dtype and np.array_equal(array, ARRAYS[name]), name
        assert array.ctypes.data % 64 == 0, name
        assert not array.flags.writeable
    with np.load(path, allow_pickle=False) as plain:  # the server's reader takes it too
        assert all(np.array_equal(plain[name], ARRAYS[name]) for name in ARRAYS)


def test_anything_but_stored_plain_arrays_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="object"):
        write_arrays(tmp_path / "o.npz", {"o": np.array([object()], dtype=object)})
    assert not list(tmp_path.iterdir())
    np.savez_compressed(tmp_path / "c.npz", a=np.arange(3))
    with pytest.raises(ValueError, match="compressed"):
        map_arrays(tmp_path / "c.npz")
    (tmp_path / "t.npz").write_bytes((tmp_path / "c.npz").read_bytes()[:40])
    with pytest.raises(ValueError, match="not a compiled policy"):
        map_arrays(tmp_path / "t.npz")
    with zipfile.ZipFile(tmp_path / "n.npz", "w") as archive:
        archive.writestr("x.npy", b"not an array")
    with pytest.raises(ValueError, match="magic"):
        map_arrays(tmp_path / "n.npz")


def test_a_part_round_trips_and_matches_the_same(tmp_path: Path) -> None:
    items = [indicator(n) for n in range(60)]
    index = build(items, 9)
    save_compiled(tmp_path / "p.npz", index.base, {"sequence": 9, "digest": "d"})
    part, described = load_compiled(tmp_path / "p.npz")
    assert described == {"sequence": 9, "digest": "d"}
    loaded = CompiledIndex(part, 9)
    assert sorted(loaded.indicators(), key=lambda i: i.id) == items
    for kind in TYPES:
        assert list(loaded.indicators_of(kind)) == list(index.indicators_of(kind))
    for item in items:
        field = {
            "FileSha256": "sha256",
            "FileSha1": "sha1",
            "FileMd5": "md5",
            "IpAddress": "remote_ip",
            "DomainName": "domain",
            "Url": "url",
        }[item.indicator_type.value]
        seen = event(**{field: item.value})
        assert decide_event(loaded, seen) == decide_event(index, seen), item
