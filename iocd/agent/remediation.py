"""Remediation tasks from automated investigations (docs/agent-protocol.md section 9).

The server queues "quarantine the file with this hash" for every device where a file the list
calls bad was seen. The agent fetches its open tasks, walks the watched paths once for all of
them (hashing each file only with the hash types the tasks name), moves every match into the
quarantine vault, and reports per task: Done (with how many files it quarantined, possibly
none: the file is not here any more) or Failed (with why).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from iocd.agent.hashing import FileHashes, hash_file
from iocd.agent.protect import walk
from iocd.agent.quarantine import FileChanged, Vault
from iocd.domain.types import IndicatorType

log = logging.getLogger("iocd.agent.remediation")

HASH_TYPES = {
    "sha256": IndicatorType.FILE_SHA256,
    "sha1": IndicatorType.FILE_SHA1,
    "md5": IndicatorType.FILE_MD5,
}


class Remediator:
    def __init__(
        self,
        fetch: Callable[[], list[dict[str, Any]]],
        report: Callable[[str, dict[str, Any]], object],
        roots: Callable[[], Sequence[Path]],
        vault: Vault,
        skip: Path | None = None,
    ) -> None:
        self._fetch = fetch
        self._report = report
        self._roots = roots
        self._vault = vault
        self._skip = skip

    def step(self) -> int:
        """Fetch the open tasks, carry them out and report each; how many were reported."""
        tasks = self._fetch()
        if not tasks:
            return 0
        results = self.carry_out(tasks)
        for task in tasks:
            self._report(str(task["id"]), results[str(task["id"])])
        return len(tasks)

    def carry_out(self, tasks: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Task id -> result body, after one walk over the watched paths."""
        wanted: dict[tuple[str, str], list[str]] = {}
        results: dict[str, dict[str, Any]] = {}
        for task in tasks:
            task_id, kind = str(task["id"]), str(task.get("hashType", ""))
            value = str(task.get("value", "")).lower()
            if kind not in HASH_TYPES or not value:
                results[task_id] = _result("Failed", f"cannot remediate hash type {kind!r}")
                continue
            wanted.setdefault((kind, value), []).append(task_id)
            results[task_id] = {"status": "Done", "quarantined": 0, "paths": [], "errors": []}
        if wanted:
            self._sweep(wanted, results)
        return {k: _finish(v) for k, v in results.items()}

    def _sweep(
        self, wanted: dict[tuple[str, str], list[str]], results: dict[str, dict[str, Any]]
    ) -> None:
        types = {HASH_TYPES[kind] for kind, _ in wanted}
        for root in self._roots():
            for path in walk(root, self._skip):
                try:
                    hashes = hash_file(path, types)
                except OSError:
                    continue
                for (kind, value), task_ids in wanted.items():
                    if getattr(hashes, kind) == value:
                        self._quarantine(path, hashes, task_ids, results)
                        break

    def _quarantine(
        self,
        path: str,
        hashes: FileHashes,
        task_ids: list[str],
        results: dict[str, dict[str, Any]],
    ) -> None:
        try:
            item = self._vault.put(Path(path), hashes, None, {"remediationTasks": task_ids})
        except (FileChanged, OSError) as error:
            for task_id in task_ids:
                results[task_id]["errors"].append(f"{path}: {error}")
            return
        log.warning("remediation: quarantined %s as %s (tasks %s)", path, item.id, task_ids)
        for task_id in task_ids:
            results[task_id]["quarantined"] += 1
            results[task_id]["paths"].append(path)


def _result(status: str, message: str, quarantined: int = 0) -> dict[str, Any]:
    return {"status": status, "message": message, "quarantined": quarantined}


def _finish(work: dict[str, Any]) -> dict[str, Any]:
    if "paths" not in work:
        return work
    paths, errors, count = work["paths"], work["errors"], work["quarantined"]
    if errors and not count:
        return _result("Failed", "; ".join(errors)[:4000])
    if count:
        message = f"quarantined {count} file(s): " + ", ".join(paths)
        if errors:
            message += "; failed: " + "; ".join(errors)
        return _result("Done", message[:4000], count)
    return _result("Done", f"not present under the watched paths on {os.uname().nodename}")
