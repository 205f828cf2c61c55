"""A feed server for tests: http.server in a thread serving files from a folder, with ETag and
Last-Modified (answering 304 to a matching conditional request), and switchable misbehaviour:
answer 500, hang, or cut the body off after a few bytes."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Behaviour:
    mode: str = "normal"  # normal | error | hang | truncate
    requests: list[dict[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


class FeedServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.behaviour = Behaviour()
        behaviour, folder = self.behaviour, root

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                behaviour.requests.append({"path": self.path, **dict(self.headers)})
                if behaviour.mode == "error":
                    self.send_error(500, "Internal Server Error")
                    return
                if behaviour.mode == "hang":
                    behaviour.release.wait(10)
                    return
                path = folder / self.path.lstrip("/").split("?")[0]
                if not path.is_file():
                    self.send_error(404, "Not Found")
                    return
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                modified = formatdate(int(path.stat().st_mtime), usegmt=True)
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if behaviour.mode == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.behaviour.release.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serving(root: Path) -> Iterator[FeedServer]:
    server = FeedServer(root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        time.sleep(0)
