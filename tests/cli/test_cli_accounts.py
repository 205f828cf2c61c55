"""`iocd apps`, `iocd users` and `iocd groups` on a SQLite data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iocd.cli.main import app


@pytest.fixture
def iocd(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
        result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args], input=stdin)
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result.output

    return run


def field(output: str, label: str) -> str:
    line = next(line for line in output.splitlines() if line.startswith(label))
    return line.split()[-1]


def test_apps_create_list_revoke(iocd) -> None:  # type: ignore[no-untyped-def]
    created = iocd(
        "apps", "create", "--name", "sync tool", "--role", "Ti.ReadWrite.All", "--rate-limit", "600"
    )
    client_id = field(created, "client id")
    assert len(field(created, "client secret")) >= 40
    assert "/oauth2/v2.0/token" in field(created, "token URL")
    listed = json.loads(iocd("apps", "list", "--json"))
    assert listed == [
        {
            **listed[0],
            "clientId": client_id,
            "name": "sync tool",
            "role": "Ti.ReadWrite.All",
            "revoked": False,
            "rateLimitPerMinute": 600,
        }
    ]
    assert "secret" not in json.dumps(listed).lower()
    iocd("apps", "revoke", client_id)
    assert json.loads(iocd("apps", "list", "--json"))[0]["revoked"] is True
    assert iocd("apps", "create", "--name", "x", "--role", "Admin", code=1).startswith("error:")


def test_groups_and_users(iocd) -> None:  # type: ignore[no-untyped-def]
    iocd("groups", "create", "Servers", "--device-name", "srv-*", "--os", "Linux*")
    iocd("groups", "create", "Laptops", "--tag", "laptop")
    assert "1. Laptops, 2. Servers" in iocd("groups", "rank", "Laptops", "1")
    groups = json.loads(iocd("groups", "list", "--json"))
    assert [(g["name"], g["rank"]) for g in groups] == [("Laptops", 1), ("Servers", 2)]
    assert groups[1]["rules"]["deviceNames"] == ["srv-*"]

    iocd("users", "create", "bob", "--role", "Analyst", "--group", "Servers")
    assert iocd("users", "create", "eve", "--group", "Nowhere", code=1).startswith(
        "error: deviceGroups: unknown device group(s): Nowhere"
    )
    iocd("users", "set-role", "bob", "SecurityAdministrator")
    token = iocd("users", "token", "bob", "--name", "script")
    assert "iocd_pat_" in token
    iocd("users", "disable", "bob")
    users = json.loads(iocd("users", "list", "--json"))
    assert users == [
        {
            "name": "bob",
            "role": "SecurityAdministrator",
            "displayName": "",
            "deviceGroups": ["Servers"],
            "disabled": True,
        }
    ]
    iocd("groups", "delete", "Laptops")
    assert [g["name"] for g in json.loads(iocd("groups", "list", "--json"))] == ["Servers"]


def test_user_password_is_prompted_and_checked(iocd) -> None:  # type: ignore[no-untyped-def]
    out = iocd("users", "create", "carol", "--password", stdin="short\nshort\n", code=1)
    assert "at least 12 characters" in out
    iocd(
        "users",
        "create",
        "carol",
        "--role",
        "ReadOnly",
        "--password",
        stdin="correct horse battery\ncorrect horse battery\n",
    )
