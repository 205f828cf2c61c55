"""The `iocd` command end to end on a SQLite data directory, as a user would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iocd.cli.main import app

IPSUM = Path(__file__).resolve().parents[3] / "shared" / "data" / "ipsum" / "level3.txt"


@pytest.fixture
def iocd(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    data_dir = tmp_path / "data"

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--data-dir", str(data_dir), *args])
        output = result.output
        assert result.exit_code == code, f"exit {result.exit_code}: {output}"
        return output

    return run


def test_db_upgrade_prepares_an_empty_store(iocd) -> None:  # type: ignore[no-untyped-def]
    out = iocd("db", "upgrade")
    assert "store ready: SQLite" in out
    assert "0 active indicators" in out


def test_template_imports_cleanly_and_reimport_is_a_no_op(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    template = tmp_path / "sample.csv"
    iocd("csv-template", str(template))
    assert "7 created" in iocd("indicators", "import", str(template))
    assert "7 unchanged" in iocd("indicators", "import", str(template))
    listed = json.loads(iocd("indicators", "list", "--json"))
    assert sorted(i["indicatorType"] for i in listed) == sorted(
        [
            "FileSha256",
            "FileSha1",
            "FileMd5",
            "CertificateThumbprint",
            "IpAddress",
            "DomainName",
            "Url",
        ]
    )


@pytest.mark.skipif(not IPSUM.exists(), reason="shared/data/ipsum is not beside the project")
def test_ipsum_list_imports(iocd) -> None:  # type: ignore[no-untyped-def]
    out = iocd("indicators", "import", str(IPSUM), "--title", "IPsum level 3")
    assert "14,217 rows: 14,217 created" in out
    blocked = iocd(
        "indicators", "import", str(IPSUM), "--action", "Block", "--title", "IPsum", code=1
    )
    # Blocking is refused for the two public DNS resolvers the list carries; each is named.
    assert "14,215 updated" in blocked
    assert "2 failed" in blocked
    assert "public DNS resolver" in blocked


def test_bad_rows_are_reported_by_line_and_good_rows_stored(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "mixed.csv"
    source.write_bytes(
        b"IndicatorType,IndicatorValue,Action,Title,Description\n"
        b"IpAddress,198.51.100.7,Block,ok,d\n"
        b"IpAddress,10.0.0.1/8,Block,t,d\n"
        b"Url,http:///x,Block,t,d\n"
        b"IpAddress,1.2.3.4,Explode,t,d\n"
        b"\xff\xfe,bad,Block,t,d\n"
        b"DomainName,xn--pple-43d.com,Block,homograph,d\n"
    )
    report = tmp_path / "failures.csv"
    out = iocd("indicators", "import", str(source), "--report", str(report), code=1)
    assert "2 created" in out
    assert "4 failed" in out
    assert "line 3: IndicatorValue: '10.0.0.1/8' has host bits set; the block is 10.0.0.0/8" in out
    assert "line 4: IndicatorValue: 'http:///x' has no host" in out
    assert "line 5: Action: unknown value 'Explode'" in out
    assert "line 6" in out and "not valid UTF-8" in out
    assert report.read_text().splitlines()[0] == "Line,Reason"
    assert len(report.read_text().splitlines()) == 5


def test_missing_header_is_one_clear_error(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "nohdr.csv"
    source.write_text("foo,bar\n1,2\n")
    out = iocd("indicators", "import", str(source), "--format", "csv", code=1)
    assert out.startswith("error: header:")
    assert out.count("\n") == 1


def test_add_show_history_delete(iocd) -> None:  # type: ignore[no-untyped-def]
    refused = iocd("indicators", "add", "10.1.2.3", "--action", "Block", "--title", "lab", code=1)
    assert refused.startswith("error: refused by guardrail: 10.1.2.3 is in 10.0.0.0/8")
    stored = json.loads(
        iocd(
            "indicators",
            "add",
            "10.1.2.3",
            "--action",
            "Block",
            "--title",
            "lab",
            "--override",
            "isolated lab network",
            "--expires",
            "30d",
            "--group",
            "Lab",
            "--json",
        )
    )
    assert stored["indicatorValue"] == "10.1.2.3"
    assert stored["rbacGroupNames"] == ["Lab"]
    again = iocd(
        "indicators",
        "add",
        "10.1.2.3",
        "--action",
        "Warn",
        "--title",
        "lab",
        "--override",
        "isolated lab network",
        "--group",
        "Lab",
    )
    assert again.startswith(f"updated indicator {stored['id']}")
    history = json.loads(iocd("indicators", "history", stored["id"], "--json"))
    assert [e["action"] for e in history] == ["created", "updated"]
    assert history[0]["justification"] == "isolated lab network"
    assert history[1]["changes"]["action"] == ["Block", "Warn"]
    iocd("indicators", "delete", stored["id"])
    shown = json.loads(iocd("indicators", "show", stored["id"], "--json"))
    assert shown["state"] == "deleted"
    assert iocd("indicators", "list", "--json").strip() == "[]"
    assert iocd("indicators", "delete", stored["id"], code=1).startswith("error:")


def test_list_filters_and_value_normalisation(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    template = tmp_path / "sample.csv"
    iocd("csv-template", str(template))
    iocd("indicators", "import", str(template))
    by_value = json.loads(
        iocd("indicators", "list", "--json", "--value", "44D88612FEA8A8F36DE82E1278ABB02F")
    )
    assert [i["indicatorType"] for i in by_value] == ["FileMd5"]
    blocks = json.loads(iocd("indicators", "list", "--json", "--action", "block"))
    assert {i["action"] for i in blocks} == {"Block"}
    found = json.loads(iocd("indicators", "list", "--json", "--search", "PHISHING"))
    assert [i["indicatorType"] for i in found] == ["Url"]


def test_export_reimports_unchanged(iocd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    template = tmp_path / "sample.csv"
    iocd("csv-template", str(template))
    iocd("indicators", "import", str(template))
    exported = tmp_path / "all.csv"
    iocd("indicators", "export", str(exported))
    assert exported.read_text().startswith("IndicatorType,IndicatorValue,ExpirationTime,Action")
    assert "7 unchanged" in iocd("indicators", "import", str(exported))
    assert not (tmp_path / "all.csv.partial").exists()
