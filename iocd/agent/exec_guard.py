"""Execution blocking: fanotify permission events stop a blocked file before it runs.

The kernel asks before it lets any process execute a file (`FAN_OPEN_EXEC_PERM`) on the mounts
that hold the watched folders; `ExecGuard` answers every question. A file outside the watched
folders is allowed at once; one inside is hashed through the descriptor the event carries (the
file as the kernel is about to run it, not a path that could be swapped) and decided with the
policy (`verdict(path, hashes)`). A blocked file is denied, so `execve` fails with EPERM, and is
then handed to `on_denied` (the agent quarantines and alerts through its usual file check).

Fail-open: an error while deciding allows the execution (and is logged), and closing the
fanotify descriptor (the agent stopping or dying) makes the kernel allow whatever was pending,
so a broken agent never stops a host from running programs. Needs root (CAP_SYS_ADMIN) and a
kernel built with fanotify access permissions; `available()` says whether this host allows it.
The calls are made through ctypes: no maintained Python binding covers permission events.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import struct
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from iocd.agent.hashing import FileHashes, hash_descriptor
from iocd.domain.types import IndicatorType

log = logging.getLogger(__name__)

FAN_CLOEXEC = 0x01
FAN_CLASS_CONTENT = 0x04
FAN_MARK_ADD = 0x01
FAN_MARK_MOUNT = 0x10
FAN_OPEN_EXEC_PERM = 0x0004_0000
FAN_ALLOW = 0x01
FAN_DENY = 0x02
AT_FDCWD = -100
METADATA = struct.Struct("=IBBHQii")  # event_len, vers, reserved, metadata_len, mask, fd, pid
RESPONSE = struct.Struct("=iI")  # fd, response
FANOTIFY_METADATA_VERSION = 3

Verdict = Callable[[str, FileHashes], bool]
"""(path, hashes) -> whether to deny the execution."""


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.fanotify_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
    libc.fanotify_init.restype = ctypes.c_int
    libc.fanotify_mark.argtypes = [
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint64,
        ctypes.c_int,
        ctypes.c_char_p,
    ]
    libc.fanotify_mark.restype = ctypes.c_int
    return libc


def _open_group() -> int:
    """A fanotify descriptor for permission events (OSError with the kernel's reason)."""
    libc = _libc()
    fd = libc.fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, os.O_RDONLY | os.O_LARGEFILE)
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"fanotify_init: {os.strerror(code)}")
    return int(fd)


def _mark_mount(fd: int, path: Path) -> None:
    libc = _libc()
    done = libc.fanotify_mark(
        fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_EXEC_PERM, AT_FDCWD, os.fsencode(path)
    )
    if done < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"fanotify_mark {path}: {os.strerror(code)}")


def available() -> tuple[bool, str]:
    """(whether execution blocking works on this host, why or why not)."""
    if os.geteuid() != 0:
        return False, "needs root"
    if not Path("/proc/sys/fs/fanotify").is_dir():
        return False, "the kernel has no fanotify"
    try:
        fd = _open_group()
    except OSError as error:
        return False, f"the kernel refuses fanotify permission events ({error.strerror})"
    try:
        _mark_mount(fd, Path("/"))
    except OSError as error:
        reason = "the kernel has no execution permission events"
        if error.errno != errno.EINVAL:
            reason = f"fanotify marks are refused ({error.strerror})"
        return False, reason
    finally:
        os.close(fd)
    return True, "fanotify permission events stop a blocked file before it runs"


def _inside(path: str, folders: Sequence[str]) -> bool:
    return any(path == f or path.startswith(f + os.sep) for f in folders)


class ExecGuard:
    """Answers the kernel's execution permission questions for the watched folders."""

    def __init__(
        self,
        folders: Sequence[Path],
        hash_types: Callable[[], frozenset[IndicatorType]],
        verdict: Verdict,
        on_denied: Callable[[str], object],
    ) -> None:
        self.folders = [os.path.realpath(f) for f in folders]
        self.hash_types = hash_types
        self.verdict = verdict
        self.on_denied = on_denied
        self.denied = 0
        self._fd = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Marks the mounts of the watched folders and starts answering (OSError if refused)."""
        self._fd = _open_group()
        try:
            for folder in self.folders:
                _mark_mount(self._fd, Path(folder))
        except OSError:
            os.close(self._fd)
            self._fd = -1
            raise
        self._thread = threading.Thread(target=self._run, name="iocd-agent-exec", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._fd >= 0:
            os.close(self._fd)  # the kernel allows whatever is still pending
            self._fd = -1

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(200):
                continue
            try:
                data = os.read(self._fd, 64 * METADATA.size)
            except InterruptedError:
                continue
            except OSError as error:
                log.error("execution blocking stopped: %s", error)
                return
            for event_fd in self._events(data):
                self._answer(event_fd)

    @staticmethod
    def _events(data: bytes) -> list[int]:
        fds = []
        at = 0
        while at + METADATA.size <= len(data):
            length, version, _, _, mask, fd, _ = METADATA.unpack_from(data, at)
            if version != FANOTIFY_METADATA_VERSION or length < METADATA.size:
                log.error("fanotify: unexpected event version %s", version)
                break
            if mask & FAN_OPEN_EXEC_PERM and fd >= 0:
                fds.append(fd)
            elif fd >= 0:
                os.close(fd)
            at += length
        return fds

    def _answer(self, event_fd: int) -> None:
        deny = False
        path = ""
        try:
            path = os.readlink(f"/proc/self/fd/{event_fd}")
            if _inside(path, self.folders):
                hashes = hash_descriptor(event_fd, self.hash_types())
                deny = self.verdict(path, hashes)
        except Exception:  # fail open: a broken decision never stops the host
            log.exception("execution blocking: could not decide %s; allowed", path or event_fd)
            deny = False
        try:
            os.write(self._fd, RESPONSE.pack(event_fd, FAN_DENY if deny else FAN_ALLOW))
        finally:
            os.close(event_fd)
        if deny:
            self.denied += 1
            log.warning("execution blocked: %s", path)
            try:
                self.on_denied(path)
            except Exception:
                log.exception("execution blocking: could not quarantine %s", path)
