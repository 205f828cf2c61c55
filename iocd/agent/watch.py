"""Watch folders for created, modified and moved files (inotify through watchdog) and hand each
file to the protector once its writes have settled.

A file is checked `settle` seconds after its last event, or at once when the writer closes it
(inotify's close-after-write). Events inside `ignore` (the agent's own state folder, which holds
the quarantine vault) are dropped. One worker thread checks files one after another; a file that
changes again while queued is checked once, after the last change.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
    FileSystemMovedEvent,
)
from watchdog.observers import Observer

log = logging.getLogger(__name__)


class Debouncer:
    """Paths waiting for their writes to settle, handed to `handle` on a worker thread."""

    def __init__(self, handle: Callable[[str], object], settle: float = 0.2) -> None:
        self.handle = handle
        self.settle = settle
        self._due: dict[str, float] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="iocd-agent-debounce", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(5)

    def touch(self, path: str, now: bool = False) -> None:
        with self._cond:
            self._due[path] = time.monotonic() + (0.0 if now else self.settle)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop:
                    moment = time.monotonic()
                    ready = [p for p, due in self._due.items() if due <= moment]
                    if ready:
                        for path in ready:
                            del self._due[path]
                        break
                    wait = min(self._due.values(), default=moment + 1.0) - moment
                    self._cond.wait(max(wait, 0.01))
                else:
                    return
            for path in ready:
                try:
                    self.handle(path)
                except Exception:
                    log.exception("checking %s failed", path)


class _Handler(FileSystemEventHandler):
    def __init__(self, debouncer: Debouncer, ignore: Path | None) -> None:
        self.debouncer = debouncer
        self.ignore = str(ignore.absolute()) + os.sep if ignore else None

    def _touch(self, raw: str | bytes, now: bool = False) -> None:
        path = os.fsdecode(raw)
        if self.ignore and (path + os.sep).startswith(self.ignore):
            return
        self.debouncer.touch(path, now)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            if isinstance(event, DirCreatedEvent | DirMovedEvent):
                self._folder(event)
            return
        if event.event_type in ("created", "modified"):
            self._touch(event.src_path)
        elif isinstance(event, FileSystemMovedEvent):
            self._touch(event.dest_path)
        elif isinstance(event, FileClosedEvent):
            self._touch(event.src_path, now=True)

    def _folder(self, event: FileSystemEvent) -> None:
        """A folder that appears with files already in it (moved in, or `cp -r`) is walked:
        its files produced no event of their own for us."""
        folder = os.fsdecode(
            event.dest_path if isinstance(event, DirMovedEvent) else event.src_path
        )
        for place, _, files in os.walk(folder):
            for name in files:
                self._touch(os.path.join(place, name))


class Watcher:
    """Recursive watches on `paths`, feeding `check` through a Debouncer."""

    def __init__(
        self,
        paths: Iterable[Path],
        check: Callable[[str], object],
        *,
        ignore: Path | None = None,
        settle: float = 0.2,
    ) -> None:
        self.paths = [Path(p).absolute() for p in paths]
        self.debouncer = Debouncer(check, settle)
        self._observer = Observer()
        handler = _Handler(self.debouncer, ignore)
        for path in self.paths:
            path.mkdir(parents=True, exist_ok=True)
            self._observer.schedule(handler, str(path), recursive=True)

    def start(self) -> None:
        self.debouncer.start()
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(5)
        self.debouncer.stop()
