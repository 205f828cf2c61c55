"""`iocd connectors push` against another live iocd: the first push creates, a second one does
nothing, local changes and removals update and delete there, what others created there is never
touched, a dry run changes nothing; and the connector's pacing and 429 handling (fake HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from iocd.cli.main import app
from iocd.connectors.defender import DefenderIndicators, RemoteError
from tests.api.api_support import LiveApi, StartApi, sha256

SECRET_ENV = "IOCD_TEST_PUSH_SECRET"


@pytest.fixture
def remote(start_api: StartApi) -> LiveApi:
    return start_api()


class Local:
    """The local iocd (a data directory driven through the CLI) pushing to `remote`."""

    def __init__(self, data_dir: Path, remote: LiveApi, client_id: str) -> None:
        self.data_dir, self.remote, self.client_id = data_dir, remote, client_id
        self.runner = CliRunner()

    def run(self, *args: str, code: int = 0) -> str:
        result = self.runner.invoke(app, ["--data-dir", str(self.data_dir), *args])
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result.stdout

    def push(self, *extra: str, code: int = 0) -> dict[str, Any]:
        out = self.run(
            "connectors",
            "push",
            "--base-url",
            f"{self.remote.base_url}/api",
            "--token-url",
            f"{self.remote.base_url}/{self.remote.tenant}/oauth2/v2.0/token",
            "--client-id",
            self.client_id,
            "--client-secret-env",
            SECRET_ENV,
            "--json",
            *extra,
            code=code,
        )
        return json.loads(out)  # type: ignore[no-any-return]

    def add(self, value: str, *extra: str) -> None:
        self.run("indicators", "add", value, "--title", "pushed", *extra)


def remote_rows(remote: LiveApi, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    rows = remote.http.get("/api/indicators", headers=headers).json()["value"]
    return {r["indicatorValue"]: r for r in rows}


def test_push_creates_then_updates_and_deletes_only_its_own(
    remote: LiveApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id, secret = remote.register_app()
    monkeypatch.setenv(SECRET_ENV, secret)
    other = remote.app_headers()
    shared, theirs = sha256(), sha256()
    remote.submit(other, indicatorValue=shared, action="Audit", title="theirs")
    remote.submit(other, indicatorValue=theirs, action="Block", title="theirs")
    before = remote_rows(remote, other)
    local = Local(tmp_path / "local", remote, client_id)
    mine = [sha256() for _ in range(3)]
    for value in [*mine, shared]:
        local.add(value, "--type", "FileSha256", "--action", "Block")

    dry = local.push("--dry-run")
    assert (dry["dryRun"], dry["create"], dry["held"], dry["update"], dry["delete"]) == (
        True,
        3,
        1,
        0,
        0,
    )
    held = next(c for c in dry["changes"] if c["change"] == "held")
    assert held["indicatorValue"] == shared and "held there by" in held["note"]
    assert remote_rows(remote, other) == before  # the dry run changed nothing

    first = local.push()
    assert (first["create"], first["failures"]) == (3, [])
    there = remote_rows(remote, other)
    assert {v for v, r in there.items() if r["createdBy"] == client_id} == set(mine)
    assert there[shared] == before[shared] and there[theirs] == before[theirs]

    again = local.push()
    assert (again["create"], again["update"], again["delete"], again["unchanged"]) == (0, 0, 0, 3)

    local.add(mine[0], "--type", "FileSha256", "--action", "Block", "--severity", "High")
    gone = json.loads(local.run("indicators", "list", "--value", mine[1], "--json"))[0]["id"]
    local.run("indicators", "delete", gone)
    changed = local.push()
    assert (changed["update"], changed["delete"], changed["create"]) == (1, 1, 0)
    assert next(c for c in changed["changes"] if c["change"] == "update")["fields"] == ["severity"]
    there = remote_rows(remote, other)
    assert there[mine[0]]["severity"] == "High" and mine[1] not in there
    assert there[shared] == before[shared] and there[theirs] == before[theirs]

    narrowed = local.push("--type", "FileSha1", "--dry-run")  # nothing selected: all ours go
    assert (narrowed["delete"], narrowed["create"]) == (2, 0)
    assert len(remote_rows(remote, other)) == 4


def test_push_reports_remote_refusals_and_bad_credentials(
    remote: LiveApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id, secret = remote.register_app()
    local = Local(tmp_path / "local", remote, client_id)
    local.add(sha256(), "--type", "FileSha256")
    monkeypatch.setenv(SECRET_ENV, "wrong")
    out = local.run(
        "connectors",
        "push",
        "--base-url",
        f"{remote.base_url}/api",
        "--token-url",
        f"{remote.base_url}/{remote.tenant}/oauth2/v2.0/token",
        "--client-id",
        client_id,
        "--client-secret-env",
        SECRET_ENV,
        code=1,
    )
    assert out == ""  # the error goes to standard error, and never the secret
    monkeypatch.delenv(SECRET_ENV)
    local.run(
        "connectors",
        "push",
        "--base-url",
        "x",
        "--token-url",
        "y",
        "--client-id",
        client_id,
        "--client-secret-env",
        SECRET_ENV,
        code=1,
    )
    with DefenderIndicators(
        base_url="http://x/api", token_url="http://x/t", client_id="c", client_secret=secret
    ) as connector:
        assert secret not in repr(connector)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def fake_remote(handler: Any, clock: FakeClock, **options: Any) -> DefenderIndicators:
    return DefenderIndicators(
        base_url="https://remote.example/api",
        token_url="https://login.example/tenant/oauth2/v2.0/token",
        client_id="me",
        client_secret="s3cret",
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        **options,
    )


Handler = Callable[[httpx.Request], httpx.Response]


def token_or(answer: Handler) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            assert form["grant_type"] == "client_credentials" and form["client_secret"] == "s3cret"
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3599})
        assert request.headers["authorization"] == "Bearer t"
        return answer(request)

    return handler


def test_429_waits_for_retry_after_then_retries() -> None:
    clock, answers = FakeClock(), iter([429, 429, 200])

    def answer(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status == 429:
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {}})
        return httpx.Response(200, json={"value": [{"isFailed": False}]})

    remote = fake_remote(token_or(answer), clock)
    assert remote.import_batch([{"indicatorValue": "x"}]) == [None]
    assert clock.slept == [7.0, 7.0] and remote.calls == 3


def test_429_forever_is_an_error() -> None:
    clock = FakeClock()
    remote = fake_remote(token_or(lambda _: httpx.Response(429)), clock, max_retries=2)
    with pytest.raises(RemoteError, match="rate limited"):
        remote.import_batch([{}])


def test_calls_are_paced_to_the_rate() -> None:
    clock = FakeClock()
    pages = {
        "": {
            "value": [{"id": "1"}],
            "@odata.nextLink": "https://remote.example/api/indicators?p=2",
        },
        "p=2": {"value": [{"id": "2"}]},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        key = "p=2" if "p=2" in str(request.url) else ""
        if not key:
            assert request.url.params["$filter"] == "createdBy eq 'me'"
        return httpx.Response(200, json=pages[key])

    remote = fake_remote(token_or(answer), clock, requests_per_minute=30)
    assert [r["id"] for r in remote.created_by_me()] == ["1", "2"]
    assert clock.slept == [2.0]  # 30 a minute: one every two seconds
