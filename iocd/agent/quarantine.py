"""The quarantine vault: files the policy blocks, kept so that `restore` puts them back exactly.

The vault is one owner-only folder (0700). An item is two owner-only files (0600): `<id>.bin`, the
file itself (moved there by rename, so its bytes and timestamps are untouched; copied and fsynced
when the vault is on another file system), and `<id>.json`, its metadata: original path, mode,
owner (when running as root), size, access and modification times, hashes, the indicator, the
decision and when it was quarantined. The metadata is written first, so a crash never leaves a
file in the vault that nobody can restore.

Restoring refuses to overwrite a file that now exists at the original path unless forced. A file
a person restored is exempt from the policy at that path with those hashes (`Exemptions`), or
the agent watching the folder would quarantine it again at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iocd.agent.files import fsync_dir, private_dir, read_json, write_json
from iocd.agent.hashing import FileHashes


class FileChanged(Exception):
    """The file is not the one that was hashed (written to, replaced or removed since)."""


class QuarantineItemNotFound(KeyError):
    pass


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    id: str
    original_path: str
    size: int
    hashes: dict[str, str]
    indicator_id: int | None
    quarantined_at: str
    metadata: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuarantineItem:
        return cls(
            id=str(data["id"]),
            original_path=str(data["originalPath"]),
            size=int(data["size"]),
            hashes=dict(data.get("hashes") or {}),
            indicator_id=None if data.get("indicatorId") is None else int(data["indicatorId"]),
            quarantined_at=str(data["quarantinedAt"]),
            metadata=data,
        )


class Vault:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _paths(self, item_id: str) -> tuple[Path, Path]:
        if not item_id or not all(c in "0123456789abcdef" for c in item_id):
            raise QuarantineItemNotFound(item_id)
        return self.folder / f"{item_id}.bin", self.folder / f"{item_id}.json"

    def put(
        self,
        path: Path,
        hashes: FileHashes,
        indicator_id: int | None,
        decision: dict[str, Any] | None,
        now: datetime | None = None,
    ) -> QuarantineItem:
        """Move `path` (the file `hashes` were computed from) into the vault."""
        private_dir(self.folder)
        try:
            seen = os.lstat(path)
        except FileNotFoundError as error:
            raise FileChanged(f"{path} is gone") from error
        if not stat.S_ISREG(seen.st_mode) or (
            seen.st_ino,
            seen.st_dev,
            seen.st_size,
            seen.st_mtime_ns,
        ) != (hashes.inode, hashes.device, hashes.size, hashes.mtime_ns):
            raise FileChanged(f"{path} changed after it was hashed")
        item_id = uuid.uuid4().hex
        content, meta = self._paths(item_id)
        metadata: dict[str, Any] = {
            "id": item_id,
            "originalPath": str(Path(path).absolute()),
            "mode": stat.S_IMODE(seen.st_mode),
            "size": seen.st_size,
            "atimeNs": seen.st_atime_ns,
            "mtimeNs": seen.st_mtime_ns,
            "hashes": hashes.as_dict(),
            "indicatorId": indicator_id,
            "decision": decision,
            "quarantinedAt": (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        }
        if os.geteuid() == 0:
            metadata["uid"], metadata["gid"] = seen.st_uid, seen.st_gid
        write_json(meta, metadata)
        try:
            _move(Path(path), content)
            os.chmod(content, 0o600)
        except BaseException:
            with contextlib.suppress(OSError):
                meta.unlink()
            raise
        return QuarantineItem.from_json(metadata)

    def items(self) -> list[QuarantineItem]:
        if not self.folder.is_dir():
            return []
        found = []
        for meta in sorted(self.folder.glob("*.json")):
            data = read_json(meta)
            if isinstance(data, dict) and (self.folder / f"{meta.stem}.bin").exists():
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    found.append(QuarantineItem.from_json(data))
        return sorted(found, key=lambda item: item.quarantined_at)

    def get(self, item_id: str) -> QuarantineItem:
        content, meta = self._paths(item_id)
        data = read_json(meta)
        if not isinstance(data, dict) or not content.exists():
            raise QuarantineItemNotFound(item_id)
        return QuarantineItem.from_json(data)

    def restore(self, item_id: str, force: bool = False) -> QuarantineItem:
        """Put the item back: same path, bytes, mode, times (and owner when root). Raises
        FileExistsError when something is at the original path and `force` is not set."""
        item = self.get(item_id)
        content, meta = self._paths(item_id)
        target = Path(item.original_path)
        if os.path.lexists(target) and not force:
            raise FileExistsError(f"{target} exists; use --force to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = item.metadata
        _move(content, target)
        os.chmod(target, int(data["mode"]))
        if "uid" in data and os.geteuid() == 0:
            os.chown(target, int(data["uid"]), int(data["gid"]))
        os.utime(target, ns=(int(data["atimeNs"]), int(data["mtimeNs"])))
        meta.unlink()
        return item


def _move(source: Path, target: Path) -> None:
    """Rename `source` to `target`; across file systems, copy (with fsync) then remove."""
    try:
        os.replace(source, target)
    except OSError as error:
        if error.errno != 18:  # EXDEV: another file system
            raise
        temp = target.with_name(f".{target.name}.part")
        with open(source, "rb") as reader, open(temp, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(temp, target)
        os.unlink(source)
    fsync_dir(target.parent)


class Exemptions:
    """Files a person restored from quarantine: (path, SHA-256 or other hash) pairs the agent
    leaves alone. Kept in one JSON file so a running agent sees what `iocd agent restore` adds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._entries: set[tuple[str, str]] = set()

    def add(self, item: QuarantineItem) -> None:
        data = read_json(self.path)
        entries = data if isinstance(data, list) else []
        for value in item.hashes.values():
            entries.append({"path": item.original_path, "hash": value})
        write_json(self.path, entries)

    def covers(self, path: str, hashes: FileHashes) -> bool:
        self._reload()
        if not self._entries:
            return False
        return any((path, value) in self._entries for value in hashes.as_dict().values())

    def _reload(self) -> None:
        try:
            info = os.stat(self.path)
        except OSError:
            self._entries, self._seen = set(), None
            return
        key = (info.st_mtime_ns, info.st_size)
        if key == self._seen:
            return
        data = read_json(self.path)
        self._entries = {
            (str(e["path"]), str(e["hash"]))
            for e in (data if isinstance(data, list) else [])
            if isinstance(e, dict) and "path" in e and "hash" in e
        }
        self._seen = key
