"""A compiled policy as a file: how the compile process hands an index to the agent's process.

One NumPy archive (`.npz`, members stored, not compressed) in the format of the server's saved
index (iocd.store.index_files): the part's named arrays (matching.part_arrays) and its metadata
as JSON text in the member `meta.json`, which also carries the policy's sequence value and
digest; `np.load(path, allow_pickle=False)` reads it. Two things make it cheap to load:

every member's array data is 64-byte aligned, and `load_compiled` maps the file read-only
with each array a view of the mapping (matching.array_files): nothing is read or copied at
load, pages come from the file as matching touches them, and being file pages the kernel may
drop them under pressure and read them again.

numpy only: the agent's process never imports pyarrow. Nothing is pickled (object arrays are
refused). The file is read right after the compile process wrote it, once; it has no checksum
of its own (the compile process verified the policy's digest).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from iocd.matching import array_files
from iocd.matching.array_files import write_arrays
from iocd.matching.index import Part
from iocd.matching.part_arrays import part_from_arrays, part_to_arrays

__all__ = ["load_compiled", "map_arrays", "save_compiled", "write_arrays"]

map_arrays = partial(array_files.map_arrays, what="a compiled policy")

_META = "meta.json"


def save_compiled(path: Path, part: Part, policy: dict[str, Any]) -> None:
    """Write `part` (and `policy`: its sequence value and digest) to `path`, atomically."""
    arrays, meta = part_to_arrays(part)
    text = json.dumps({**meta, "policy": policy}).encode("utf-8")
    write_arrays(path, {**arrays, _META: np.frombuffer(text, dtype=np.uint8)})


def load_compiled(path: Path) -> tuple[Part, dict[str, Any]]:
    """(the part, the policy's sequence value and digest) `save_compiled` wrote, mapped."""
    arrays = map_arrays(path)
    try:
        meta = json.loads(bytes(arrays.pop(_META)).decode("utf-8"))
        policy = meta.pop("policy")
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path.name}: not a compiled policy ({error})") from error
    return part_from_arrays(arrays, meta), policy
