"""Archives of arrays for mapping: what plain np.savez wrote (an older saved index) still loads,
every array aligned."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from iocd.matching.array_files import map_arrays, write_arrays


def test_plain_savez_archives_load_aligned(tmp_path: Path) -> None:
    arrays = {"a": np.arange(5, dtype=np.int64), "b": np.arange(7, dtype=np.uint32)}
    for name in ("x" * n for n in range(1, 9)):  # names of every length shift the data
        np.savez(tmp_path / f"{name}.npz", **{name: np.arange(3, dtype=np.uint8)}, **arrays)
        loaded = map_arrays(tmp_path / f"{name}.npz")
        assert all(np.array_equal(loaded[k], v) for k, v in arrays.items())
        assert all(array.flags.aligned for array in loaded.values())


def test_aligned_archives_are_views_of_the_file(tmp_path: Path) -> None:
    write_arrays(tmp_path / "w.npz", {"a": np.arange(5, dtype=np.int64)})
    loaded = map_arrays(tmp_path / "w.npz")
    assert not loaded["a"].flags.writeable and not loaded["a"].flags.owndata
