from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from iocd.agent import hashing
from iocd.agent.hashing import ALL_HASHES, CHUNK, hash_file
from iocd.domain.types import IndicatorType


@pytest.mark.parametrize("size", [0, 1, 4095, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_hashes_equal_hashlib(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    found = hash_file(path, ALL_HASHES)
    assert found.sha256 == hashlib.sha256(data).hexdigest()
    assert found.sha1 == hashlib.sha1(data).hexdigest()  # noqa: S324
    assert found.md5 == hashlib.md5(data).hexdigest()  # noqa: S324
    assert found.size == size
    info = path.stat()
    assert (found.inode, found.device, found.mtime_ns) == (
        info.st_ino,
        info.st_dev,
        info.st_mtime_ns,
    )


def test_only_the_types_asked_for_are_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"payload")
    made: list[str] = []
    real_new = hashlib.new

    def counting_new(name: str, *args: object, **kwargs: object) -> object:
        made.append(name)
        return real_new(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hashing.hashlib, "new", counting_new)
    found = hash_file(path, {IndicatorType.FILE_SHA256})
    assert made == ["sha256"]
    assert found.sha256 == hashlib.sha256(b"payload").hexdigest()
    assert found.sha1 is None and found.md5 is None
    made.clear()
    nothing = hash_file(path, set())
    assert made == [] and nothing.as_dict() == {} and nothing.size == 7


def test_links_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(OSError, match="link"):
        hash_file(tmp_path / "link", ALL_HASHES)
