from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path

import httpx

from iocd.agent.client import AgentClient
from iocd.agent.reporter import Reporter
from tests.agent.fake_server import FakeServer


def _client(server: FakeServer) -> AgentClient:
    return AgentClient(
        "http://iocd.test", "iocd_dev_dev1_s3cret", retries=0, transport=server.transport()
    )


def test_batches_are_spooled_while_the_server_is_down_then_delivered_once(tmp_path: Path) -> None:
    server = FakeServer()
    server.set_down(True)
    with _client(server) as client:
        reporter = Reporter(tmp_path / "spool", client.reports)
        reporter.alert(
            {"indicatorId": "1", "entityType": "File", "entity": {}, "decision": {}, "event": {}}
        )
        first = reporter.flush()
        reporter.event({"kind": "file", "sha256": "ab" * 32})
        second = reporter.flush()
        assert first is not None and second is not None
        assert reporter.deliver() == 0
        assert reporter.spooled() == [first, second]
        body = json.loads(gzip.decompress(first.read_bytes()))
        assert set(body) == {"batchId", "alerts", "events"} and len(body["alerts"]) == 1

        # A restart: a new reporter over the same spool delivers what the old one left, in order.
        server.set_down(False)
        again = Reporter(tmp_path / "spool", client.reports)
        assert again.deliver() == 2
        assert again.spooled() == []
        assert list(server.reports) == [
            body["batchId"],
            json.loads(gzip.decompress(_raw(server, 1)))["batchId"],
        ]
        assert server.report_posts == 2
        assert again.deliver() == 0 and server.report_posts == 2


def _raw(server: FakeServer, position: int) -> bytes:
    body = list(server.reports.values())[position]
    return gzip.compress(json.dumps(body).encode())


def test_a_lost_answer_is_sent_again_and_acknowledged_as_duplicate(tmp_path: Path) -> None:
    server = FakeServer()
    calls = 0

    def answer_lost(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        server.handle(request)  # stored by the server ...
        if calls == 1:
            raise httpx.ReadError("connection reset", request=request)  # ... but the answer is lost
        return server.handle(request)

    with AgentClient(
        "http://iocd.test",
        "iocd_dev_dev1_s3cret",
        retries=0,
        transport=httpx.MockTransport(answer_lost),
    ) as client:
        reporter = Reporter(tmp_path / "spool", client.reports)
        reporter.event({"kind": "file"})
        reporter.flush()
        assert reporter.deliver() == 0 and len(reporter.spooled()) == 1
        assert reporter.deliver() == 1 and reporter.spooled() == []
    assert len(server.reports) == 1


def test_a_refused_batch_is_set_aside_and_later_ones_still_go(tmp_path: Path) -> None:
    server = FakeServer()
    sent: list[bytes] = []

    def refuse_first(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        if len(sent) == 1:
            return httpx.Response(
                400, json={"error": {"code": "InvalidInput", "message": "bad", "target": "events"}}
            )
        return server.handle(request)

    with AgentClient(
        "http://iocd.test",
        "iocd_dev_dev1_s3cret",
        retries=0,
        transport=httpx.MockTransport(refuse_first),
    ) as client:
        reporter = Reporter(tmp_path / "spool", client.reports)
        for n in range(2):
            reporter.event({"kind": "file", "n": n})
            reporter.flush()
        assert reporter.deliver() == 1
    assert len(list((tmp_path / "spool" / "rejected").iterdir())) == 1
    assert len(server.reports) == 1


def test_the_run_loop_sends_alerts_quickly(tmp_path: Path) -> None:
    server = FakeServer()
    with _client(server) as client:
        reporter = Reporter(tmp_path / "spool", client.reports, alert_delay=0.05)
        stop = threading.Event()
        thread = threading.Thread(target=reporter.run, args=(stop,))
        thread.start()
        try:
            reporter.alert({"indicatorId": "9"})
            deadline = time.monotonic() + 2
            while not server.alerts() and time.monotonic() < deadline:
                time.sleep(0.02)
            assert [a["indicatorId"] for a in server.alerts()] == ["9"]
            reporter.event({"kind": "file"})  # waiting for its batch when stopped: flushed, sent
        finally:
            stop.set()
            thread.join(5)
    assert len(server.events()) == 1 and reporter.spooled() == []
