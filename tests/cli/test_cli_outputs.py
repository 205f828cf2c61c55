"""`iocd outputs write | list`, on a SQLite data directory: files written whole (Suricata rules
with their lists beside them), standard output, options and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from iocd.cli.main import app
from iocd.domain.outputs import SURICATA_LISTS
from tests.outputs import tools

SHA256 = "ab" * 32


def run(data: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["--data-dir", str(data), *args])
    assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
    return result.output


def fill(data: Path) -> None:
    run(data, "groups", "create", "Servers", "--tag", "srv")
    run(
        data,
        "indicators",
        "add",
        "evil.example",
        "--action",
        "Block",
        "--title",
        "C2",
        "--severity",
        "High",
    )
    run(data, "indicators", "add", "warn.example", "--action", "Warn", "--title", "W")
    run(
        data,
        "indicators",
        "add",
        "srv.example",
        "--action",
        "Block",
        "--title",
        "S",
        "--group",
        "Servers",
    )
    run(data, "indicators", "add", SHA256, "--action", "Block", "--title", "H")


def test_write_every_kind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fill(data)
    out = tmp_path / "out"
    out.mkdir()
    run(data, "outputs", "write", "edl", str(out / "domains.txt"), "--type", "domain")
    assert (out / "domains.txt").read_text() == "evil.example\n"
    run(
        data,
        "outputs",
        "write",
        "edl",
        str(out / "srv.txt"),
        "--type",
        "domain",
        "--group",
        "Servers",
        "--cap",
        "1",
    )
    assert (out / "srv.txt").read_text() == "evil.example\n"  # High beats Informational
    run(data, "outputs", "write", "rpz", str(out / "iocd.rpz.zone"))
    assert "*.evil.example CNAME ." in (out / "iocd.rpz.zone").read_text()
    printed = run(data, "outputs", "write", "suricata", str(out / "iocd.rules"))
    assert "wrote" in printed
    rules = (out / "iocd.rules").read_text()
    assert 'content:".warn.example"' in rules and "filesha256:iocd-sha256-drop.lst" in rules
    assert (out / "iocd-sha256-drop.lst").read_text() == SHA256 + "\n"
    assert all((out / found.file_name).exists() for found in SURICATA_LISTS.values())
    assert not list(out.glob("*.partial"))
    run(data, "outputs", "write", "clamav", str(out / "iocd.hsb"))
    assert f"{SHA256}:*:iocd.Block.FileSha256." in (out / "iocd.hsb").read_text()
    listed = run(data, "outputs", "write", "suricata-list", "-", "--type", "iocd-sha256-drop")
    assert SHA256 in listed
    if shutil.which("suricata"):
        checked = tools.suricata_test(out)
        assert checked.returncode == 0, checked.stderr


def test_list_shows_the_urls(tmp_path: Path) -> None:
    shown = run(tmp_path / "data", "outputs", "list", "--base-url", "https://iocd.example")
    assert "https://iocd.example/api/outputs/edl/ip.txt" in shown
    assert "https://iocd.example/api/outputs/rpz.zone" in shown
    assert "https://iocd.example/api/outputs/suricata/iocd-md5-drop.lst" in shown


def test_bad_input(tmp_path: Path) -> None:
    data = tmp_path / "data"
    target = str(tmp_path / "x.txt")
    assert "unknown output 'firewall'" in run(data, "outputs", "write", "firewall", target, code=1)
    assert "unknown EDL type" in run(data, "outputs", "write", "edl", target, code=1)
    assert "unknown device group 'Nope'" in run(
        data, "outputs", "write", "edl", target, "--type", "ip", "--group", "Nope", code=1
    )
    assert not Path(target).exists()
