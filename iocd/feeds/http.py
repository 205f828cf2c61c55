"""Fetching one feed document to a file: HTTP(S) with conditional requests, or a local file.

The body streams to disk (memory stays bounded whatever its size) and must arrive whole: an
error status, a timeout (connecting, between bytes, or over the whole download), a connection
cut before the announced length, or a body past the size limit each raise FeedUnavailable with
the reason, and the partial file is removed. A 304 answer to If-None-Match / If-Modified-Since
means nothing changed. Local paths (`file://` URLs or absolute paths) stand in for servers in
tests and for a MISP feed kept on disk; their validator is the file's modification time and size.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from iocd import __version__
from iocd.domain.feeds import FeedUnavailable

MAX_BODY_BYTES = 2 * 1024 * 1024 * 1024
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
TOTAL_TIMEOUT = 30 * 60.0
USER_AGENT = f"iocd/{__version__} (feeds)"


@dataclass(frozen=True, slots=True)
class Fetched:
    not_modified: bool
    etag: str | None = None
    last_modified: str | None = None
    size: int = 0


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_bytes: int = MAX_BODY_BYTES
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    total_timeout: float = TOTAL_TIMEOUT


def local_path(url: str) -> Path | None:
    """The file a `file://` URL or an absolute path names; None for anything else."""
    if url.startswith("/"):
        return Path(url)
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        return Path(unquote(parts.path))
    return None


def join(base: str, name: str) -> str:
    """`name` inside the folder `base` (a URL or a path), as MISP feeds lay out their files."""
    return base.rstrip("/") + "/" + name


def fetch(
    url: str,
    destination: Path,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    auth: tuple[str, str] | None = None,
    limits: FetchLimits | None = None,
) -> Fetched:
    """Download `url` to `destination`, conditionally when validators are given."""
    chosen = limits or FetchLimits()
    path = local_path(url)
    try:
        if path is not None:
            return _copy_local(path, destination, last_modified, chosen.max_bytes)
        return _download(url, destination, etag, last_modified, auth, chosen)
    except FeedUnavailable:
        destination.unlink(missing_ok=True)
        raise


def _copy_local(path: Path, destination: Path, previous: str | None, max_bytes: int) -> Fetched:
    try:
        stat = path.stat()
    except OSError as exc:
        raise FeedUnavailable(f"{path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise FeedUnavailable(f"{path} is not a file")
    validator = f"mtime:{stat.st_mtime_ns}:{stat.st_size}"
    if previous == validator:
        return Fetched(True, last_modified=validator)
    if stat.st_size > max_bytes:
        raise FeedUnavailable(f"{path} is {stat.st_size:,} bytes; the limit is {max_bytes:,}")
    try:
        shutil.copyfile(path, destination)
    except OSError as exc:
        raise FeedUnavailable(f"{path}: {exc.strerror or exc}") from None
    return Fetched(False, last_modified=validator, size=stat.st_size)


def _download(
    url: str,
    destination: Path,
    etag: str | None,
    last_modified: str | None,
    auth: tuple[str, str] | None,
    limits: FetchLimits,
) -> Fetched:
    headers = {"User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
    deadline = time.monotonic() + limits.total_timeout
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True, auth=auth) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code == 304:
                return Fetched(True, etag, last_modified)
            if response.status_code != 200:
                raise FeedUnavailable(
                    f"{url} answered {response.status_code} {response.reason_phrase}".rstrip()
                )
            size = _save(response, destination, limits.max_bytes, deadline, url)
            return Fetched(
                False,
                response.headers.get("etag"),
                response.headers.get("last-modified"),
                size,
            )
    except httpx.TimeoutException as exc:
        raise FeedUnavailable(f"{url} timed out ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise FeedUnavailable(f"{url}: {type(exc).__name__}: {exc}") from None


def _save(
    response: httpx.Response, destination: Path, max_bytes: int, deadline: float, url: str
) -> int:
    size = 0
    with open(destination, "wb") as out:
        for chunk in response.iter_bytes(1024 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise FeedUnavailable(f"{url} is larger than {max_bytes:,} bytes, the limit")
            if time.monotonic() > deadline:
                raise FeedUnavailable(f"{url} took too long to download (over the total limit)")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    declared = response.headers.get("content-length")
    encoded = response.headers.get("content-encoding", "identity").lower() not in ("", "identity")
    if declared and declared.isdigit() and not encoded and int(declared) != size:
        raise FeedUnavailable(f"{url} was cut off: {size:,} of {int(declared):,} bytes arrived")
    return size
