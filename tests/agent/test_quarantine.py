from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from iocd.agent.hashing import ALL_HASHES, hash_file
from iocd.agent.quarantine import Exemptions, FileChanged, QuarantineItemNotFound, Vault


def _bad_file(folder: Path) -> Path:
    path = folder / "sub" / "evil.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x7fELF bad bytes" * 100)
    path.chmod(0o751)
    os.utime(path, ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
    return path


def test_round_trip_keeps_bytes_mode_and_times(tmp_path: Path) -> None:
    path = _bad_file(tmp_path / "watched")
    data = path.read_bytes()
    hashes = hash_file(path, ALL_HASHES)
    vault = Vault(tmp_path / "state" / "quarantine")
    item = vault.put(path, hashes, 42, {"enforcement": "block"})
    assert not path.exists()
    assert stat.S_IMODE(vault.folder.stat().st_mode) == 0o700
    for kept in vault.folder.iterdir():
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    listed = vault.items()
    assert [i.id for i in listed] == [item.id]
    assert listed[0].original_path == str(path) and listed[0].indicator_id == 42
    assert listed[0].hashes["sha256"] == hashes.sha256
    assert listed[0].metadata["decision"] == {"enforcement": "block"}

    vault.restore(item.id)
    assert path.read_bytes() == data
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o751
    assert info.st_mtime_ns == 1_500_000_000_987_654_321
    assert vault.items() == []
    with pytest.raises(QuarantineItemNotFound):
        vault.restore(item.id)


def test_restore_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    path = _bad_file(tmp_path)
    data = path.read_bytes()
    vault = Vault(tmp_path / "vault")
    item = vault.put(path, hash_file(path, ALL_HASHES), 1, None)
    path.write_bytes(b"a new file at the same place")
    with pytest.raises(FileExistsError):
        vault.restore(item.id)
    assert path.read_bytes() == b"a new file at the same place"
    assert [i.id for i in vault.items()] == [item.id]
    vault.restore(item.id, force=True)
    assert path.read_bytes() == data


def test_a_file_changed_after_hashing_is_not_quarantined(tmp_path: Path) -> None:
    path = _bad_file(tmp_path)
    hashes = hash_file(path, ALL_HASHES)
    path.write_bytes(b"different now")
    vault = Vault(tmp_path / "vault")
    with pytest.raises(FileChanged):
        vault.put(path, hashes, 1, None)
    assert path.exists() and vault.items() == []


def test_unknown_ids_are_refused(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    for bad in ("", "../etc/passwd", "0123abcd"):
        with pytest.raises(QuarantineItemNotFound):
            vault.get(bad)


def test_exemptions_cover_restored_files(tmp_path: Path) -> None:
    path = _bad_file(tmp_path)
    hashes = hash_file(path, ALL_HASHES)
    vault = Vault(tmp_path / "vault")
    item = vault.put(path, hashes, 1, None)
    exemptions = Exemptions(tmp_path / "restored.json")
    assert not exemptions.covers(str(path), hashes)
    exemptions.add(item)
    vault.restore(item.id)
    assert exemptions.covers(str(path), hash_file(path, ALL_HASHES))
    assert not exemptions.covers(str(tmp_path / "elsewhere"), hashes)
