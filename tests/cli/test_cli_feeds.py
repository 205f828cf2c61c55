"""`iocd feeds add | list | run | history | disable | enable | remove` on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from iocd.cli.main import app


def test_feed_commands(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    feed = tmp_path / "list.txt"
    feed.write_text("# blocklist\n45.1.0.1\n45.1.0.2\nnot valid!\n")
    runner = CliRunner()

    def iocd(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--data-dir", str(data_dir), *args])
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result.output

    added = iocd("feeds", "add", "block", str(feed), "--action", "Block", "--expires-days", "7")
    assert "Feed:block" in added
    assert "exists" in iocd("feeds", "add", "block", str(feed), code=1)
    out = iocd("feeds", "run", "block")
    assert "2 added" in out and "1 skipped" in out and "not valid!" in out
    assert "not modified" in iocd("feeds", "run", "block")
    feed.write_text("45.1.0.2\n45.1.0.3\n")
    diff = json.loads(iocd("feeds", "run", "block", "--json"))
    assert (diff["added"], diff["withdrawn"], diff["outcome"]) == (1, 1, "ok")
    listed = json.loads(iocd("feeds", "list", "--json"))
    assert listed[0]["name"] == "block" and listed[0]["lastRun"]["added"] == 1
    runs = json.loads(iocd("feeds", "history", "block", "--json"))
    assert [r["outcome"] for r in runs] == ["ok", "not-modified", "ok"]
    assert "withdrawn" in iocd("feeds", "history", "block")
    feed.unlink()
    failed = iocd("feeds", "run", "block", code=1)
    assert "failed" in failed
    iocd("feeds", "disable", "block")
    assert json.loads(iocd("feeds", "list", "--json"))[0]["enabled"] is False
    iocd("feeds", "enable", "block")
    assert "does not exist" in iocd("feeds", "run", "nope", code=1)
    assert "2 indicators withdrawn" in iocd("feeds", "remove", "block", "--withdraw")
    assert json.loads(iocd("feeds", "list", "--json")) == []
    assert "a CSV feed needs the value column" in iocd(
        "feeds", "add", "c", str(feed), "--kind", "csv", code=1
    )
