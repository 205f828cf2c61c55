"""The compiled index saved in the data directory (`index/compiled.npz`), so a process with a
large list (`iocd serve`, `iocd scan`, `iocd explain`) starts without compiling it again.

One NumPy archive: the part's arrays (matching.part_arrays) and its metadata as JSON text in
the array `meta.json`, in the format of matching.array_files (the agent's compiled policy uses
it too): nothing pickled, every array 64-byte aligned, written to a temporary file beside it
and renamed into place (a reader sees the old file or the new one, never half of one,
whichever process writes), and mapped read-only at load (no copy: pages are read as matching
touches them). A file that cannot be read is ignored (the caller compiles from the store and
writes a new one).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from iocd.matching.array_files import map_arrays, write_arrays

__all__ = ["IndexFiles"]

log = logging.getLogger(__name__)
_META = "meta.json"


class IndexFiles:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self.path = directory / "compiled.npz"

    def load(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(arrays, metadata) of the saved index, or None when there is none or it is broken."""
        try:
            arrays = map_arrays(self.path, "a saved index")
            meta = json.loads(bytes(arrays.pop(_META)).decode("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as error:
            log.warning("ignoring the saved index %s: %s", self.path, error)
            return None
        return arrays, meta

    def save(self, arrays: dict[str, Any], meta: dict[str, Any]) -> None:
        """Replace the saved index (atomically). A failure to write is logged, not raised:
        the file only saves time."""
        text = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            write_arrays(self.path, {**arrays, _META: text})
        except OSError as error:
            log.warning("could not save the compiled index to %s: %s", self.path, error)
