"""NumPy archives (`.npz`) written for mapping: the file format of a compiled index, both the
server's saved index (store.index_files) and the agent's compiled policy (agent.compiled).

- `write_arrays` stores every member uncompressed with its array data starting at a multiple
  of 64 bytes in the file (the local header's extra field is padded, as Android's zipalign pads
  it; a `.npy` header is a multiple of 64 bytes already), into a temporary file renamed into
  place: a reader sees the old file or the new one, never half of one.
- `map_arrays` maps such a file read-only and makes each array a view of the mapping: nothing is
  read or copied, pages come from the file as they are touched. A mapping outlives a later
  rename over the file (it holds the old one).

The files stay ordinary archives (`np.load(path, allow_pickle=False)` reads them). Nothing is
pickled: object arrays are refused both ways. numpy only (the agent's process has no pyarrow).
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = ["map_arrays", "write_arrays"]

_ALIGN = 64
_PADDING = 0xD935
"""Extra-field id of the alignment padding (the one zipalign uses; readers skip unknown ids)."""
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
"""A zip local file header: signature, version, flags, method, time, date, CRC, sizes, name
length, extra length (the name and the extra field follow)."""


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


def map_arrays(path: Path, what: str = "an archive of arrays") -> dict[str, Any]:
    """The arrays of an `.npz` whose members are stored (not compressed), as read-only views of
    the file mapped in memory (no copy). ValueError for anything else ("not `what`")."""
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
            raise ValueError(f"{path.name}: not {what} ({error})") from error


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
    if handle.tell() % dtype.alignment:  # written by plain np.savez (an older saved index)
        array = array.copy()
    return array.reshape(shape, order="F" if fortran else "C")
