"""A compiled policy as a file: how the compile process hands an index to the agent's process.

One NumPy archive (`.npz`, members stored, not compressed) in the format of the server's saved
index (iocd.store.index_files): the part's named arrays (matching.part_arrays) and its metadata
as JSON text in the member `meta.json`, which also carries the policy's sequence value and
digest; `np.load(path, allow_pickle=False)` reads it. Two things make it cheap to load:

- every member's array data starts at a multiple of 64 bytes in the file (the local header's
  extra field is padded, as Android's zipalign pads it; a `.npy` header is a multiple of 64
  bytes already);
- `load_compiled` maps the file read-only and makes each array a view of the mapping: nothing
  is read or copied at load, pages come from the file as matching touches them, and being file
  pages the kernel may drop them under pressure and read them again.

numpy only: the agent's process never imports pyarrow. Nothing is pickled (object arrays are
refused). The file is read right after the compile process wrote it, once; it has no checksum
of its own (the compile process verified the policy's digest).
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from iocd.matching.index import Part
from iocd.matching.part_arrays import part_from_arrays, part_to_arrays

__all__ = ["load_compiled", "map_arrays", "save_compiled", "write_arrays"]

_META = "meta.json"
_ALIGN = 64
_PADDING = 0xD935
"""Extra-field id of the alignment padding (the one zipalign uses; readers skip unknown ids)."""
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
"""A zip local file header: signature, version, flags, method, time, date, CRC, sizes, name
length, extra length (the name and the extra field follow)."""


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


def write_arrays(path: Path, arrays: dict[str, Any]) -> None:
    """An `.npz` of `arrays` with every member's data 64-byte aligned (temp file + rename)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out, zipfile.ZipFile(out, "w") as archive:
            for name, array in arrays.items():
                _write_member(archive, out, f"{name}.npy", np.asarray(array))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_member(archive: zipfile.ZipFile, out: BinaryIO, name: str, array: Any) -> None:
    if array.dtype.hasobject:
        raise ValueError(f"{name}: object arrays are not stored")
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    start = out.tell() + _LOCAL_HEADER.size + len(name.encode("utf-8")) + 4
    pad = -start % _ALIGN
    info.extra = struct.pack("<HH", _PADDING, pad) + bytes(pad)
    with archive.open(info, "w") as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def map_arrays(path: Path) -> dict[str, Any]:
    """The arrays of an `.npz` whose members are stored (not compressed), as read-only views of
    the file mapped in memory (no copy). ValueError for anything else."""
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            with zipfile.ZipFile(handle) as archive:
                members = archive.infolist()
            return {
                info.filename.removesuffix(".npy"): _member(mapped, handle, info)
                for info in members
            }
        except (zipfile.BadZipFile, struct.error, OSError) as error:
            raise ValueError(f"{path.name}: not a compiled policy ({error})") from error


def _member(mapped: mmap.mmap, handle: BinaryIO, info: zipfile.ZipInfo) -> Any:
    """One member's array, viewing the mapping: its local header, then its `.npy` header."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{info.filename} is compressed")
    fields = _LOCAL_HEADER.unpack_from(mapped, info.header_offset)
    if fields[0] != b"PK\x03\x04":
        raise ValueError(f"{info.filename}: no local header")
    handle.seek(info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1])
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"{info.filename}: .npy version {version}")
    if dtype.hasobject:
        raise ValueError(f"{info.filename}: object arrays are not read")
    count = int(np.prod(shape, dtype=np.int64))
    array = np.frombuffer(mapped, dtype=dtype, count=count, offset=handle.tell())
    return array.reshape(shape, order="F" if fortran else "C")
