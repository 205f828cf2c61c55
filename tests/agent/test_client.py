from __future__ import annotations

import httpx
import pytest

from iocd.agent.client import AgentApiError, AgentClient, ServerUnreachable


def test_errors_carry_the_api_error_body() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        body = {
            "error": {"code": "Unauthorized", "message": "token expired", "target": "enrollToken"}
        }
        return httpx.Response(401, json=body)

    client = AgentClient("http://iocd.test", transport=httpx.MockTransport(refuse))
    with client, pytest.raises(AgentApiError) as raised:
        client.enroll({"enrollToken": "x"})
    error = raised.value
    assert (error.status, error.code, error.message, error.target) == (
        401,
        "Unauthorized",
        "token expired",
        "enrollToken",
    )


def test_transient_failures_are_retried_with_backoff() -> None:
    calls: list[int] = []
    pauses: list[float] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 2:
            return httpx.Response(503)
        return httpx.Response(200, json={"group": "g", "sequence": 3})

    with AgentClient(
        "http://iocd.test",
        "t",
        retries=3,
        backoff=0.5,
        transport=httpx.MockTransport(flaky),
        sleep=pauses.append,
    ) as client:
        assert client.status({}) == {"group": "g", "sequence": 3}
    assert len(calls) == 3 and pauses == [0.5, 1.0]


def test_unreachable_after_every_retry() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    pauses: list[float] = []
    with (
        AgentClient(
            "http://iocd.test",
            "t",
            retries=2,
            transport=httpx.MockTransport(down),
            sleep=pauses.append,
        ) as client,
        pytest.raises(ServerUnreachable, match="ConnectError"),
    ):
        client.changes(0, 1)
    assert pauses == [0.5, 1.0]


def test_client_errors_are_not_retried() -> None:
    calls: list[int] = []

    def bad(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(403, text="no")

    with (
        AgentClient(
            "http://iocd.test", "t", transport=httpx.MockTransport(bad), sleep=lambda _: None
        ) as client,
        pytest.raises(AgentApiError, match="403"),
    ):
        client.status({})
    assert len(calls) == 1


def test_calls_need_a_credential() -> None:
    with (
        AgentClient("http://iocd.test") as client,
        pytest.raises(AgentApiError, match="NotEnrolled"),
    ):
        client.snapshot()
