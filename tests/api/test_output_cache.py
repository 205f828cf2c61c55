"""The cache of rendered outputs: one render per ETag and set of options, shared by concurrent
requests, replaced by a newer render, and bounded on disk."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from iocd.api.output_cache import RenderCache


def _render(calls: list[str], etag: str, body: bytes, pause: float = 0.0) -> Any:
    def render() -> tuple[dict[str, Any], Iterable[bytes]]:
        calls.append(etag)
        time.sleep(pause)
        return {"etag": etag}, [body[:3], body[3:]]

    return render


def _read(cache: RenderCache, options: str, etag: str, render: Any) -> bytes:
    return b"".join(cache.get_or_render(options, etag, render).chunks())


def test_concurrent_requests_share_one_render(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path)
    calls: list[str] = []
    bodies: list[bytes] = []
    render = _render(calls, '"1-a"', b"line one\nline two\n", pause=0.2)

    def poll() -> None:
        bodies.append(_read(cache, "a", '"1-a"', render))

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ['"1-a"']
    assert bodies == [b"line one\nline two\n"] * 4
    assert _read(RenderCache(tmp_path), "a", '"1-a"', render) == b"line one\nline two\n"
    assert calls == ['"1-a"']  # another process (a new cache) reads the same file


def test_a_new_etag_renders_again_and_replaces_the_body(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path)
    calls: list[str] = []
    first = cache.get_or_render("a", '"1-a"', _render(calls, '"1-a"', b"old\n"))
    assert _read(cache, "a", '"2-a"', _render(calls, '"2-a"', b"new\n")) == b"new\n"
    assert b"".join(first.chunks()) == b"old\n"  # a reader of the old file finishes it
    assert calls == ['"1-a"', '"2-a"']
    assert cache.open("a", '"1-a"') is None
    assert [p.name for p in tmp_path.iterdir()] == ["a.out"]


def test_the_directory_is_bounded(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path, max_bytes=100)
    calls: list[str] = []
    for n in range(5):
        _read(cache, f"o{n}", '"1-x"', _render(calls, '"1-x"', b"x" * 40))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "o4.out" in names and len(names) <= 2
