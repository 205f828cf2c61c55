"""`iocd indicators import` with the parse-ahead process (files of 1 MiB and more): the same
report as reading in one process, every bad row by its line; header errors stay one clear line;
the import's SQLite connections sync every commit."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from iocd.cli import transfer
from iocd.cli.main import app
from iocd.codecs.ahead import ParseAhead
from iocd.services import imports

HEADER = "IndicatorType,IndicatorValue,Action,Title,Description\n"


@pytest.fixture
def iocd(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    data_dir = tmp_path / "data"

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["--data-dir", str(data_dir), *args])
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result.output

    return run


@pytest.fixture
def always_ahead(monkeypatch: pytest.MonkeyPatch) -> list[ParseAhead]:
    """Read every file ahead, however small; records each ParseAhead the command made."""
    made: list[ParseAhead] = []

    class Recorded(ParseAhead):
        def __init__(self, *args: object, **kwargs: object) -> None:
            made.append(self)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(transfer, "PARSE_AHEAD_MIN_BYTES", 0)
    monkeypatch.setattr(transfer, "ParseAhead", Recorded)
    return made


def write_mixed(path: Path, rows: int) -> list[int]:
    """Rows of which every 250th is bad (in one of three ways); returns the bad lines."""
    bad: list[int] = []
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        line = 1
        for n in range(rows):
            line += 1
            if n % 250 == 0:
                bad.append(line)
                kind = n // 250 % 3
                if kind == 0:
                    out.write(f"IpAddress,10.{n % 250}.0.1/8,Block,t,d\n")
                elif kind == 1:
                    out.write(f"FileSha256,{n:064x},Explode,t,d\n")
                else:
                    out.write(f'FileSha256,{n:064x},Block,"two\nlines",\n')
                    line += 1
                continue
            out.write(f"FileSha256,{n:064x},Audit,row {n},d\n")
    return bad


def test_bad_rows_keep_their_line_numbers_when_read_ahead(
    iocd,  # type: ignore[no-untyped-def]
    always_ahead: list[ParseAhead],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = tmp_path / "mixed.csv"
    bad = write_mixed(source, 3_000)
    report = tmp_path / "failures.csv"
    out = iocd("indicators", "import", str(source), "--report", str(report), code=1)
    assert len(always_ahead) == 1
    assert f"{3_000 - len(bad):,} created" in out
    assert f"{len(bad)} failed" in out
    assert "line 2: IndicatorValue: '10.0.0.1/8' has host bits set" in out
    assert "line 252: Action: unknown value 'Explode'" in out
    assert "line 502: Description: is required" in out
    lines = report.read_text().splitlines()[1:]
    assert [int(row.split(",", 1)[0]) for row in lines] == bad
    # the same file read in one process reports the same lines (and stores nothing new)
    monkeypatch.setattr(transfer, "PARSE_AHEAD_MIN_BYTES", 1 << 40)
    again = iocd("indicators", "import", str(source), code=1)
    assert len(always_ahead) == 1
    assert f"{3_000 - len(bad):,} unchanged, {len(bad)} failed" in again


def test_plain_lists_are_read_ahead_too(
    iocd, always_ahead: list[ParseAhead], tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "list.txt"
    source.write_text("# feed\n198.51.100.7\nnot a value at all\nevil.example\n")
    out = iocd("indicators", "import", str(source), "--title", "feed", code=1)
    assert len(always_ahead) == 1
    assert "2 created" in out
    assert "line 3:" in out


def test_header_error_read_ahead_is_one_clear_line(
    iocd,  # type: ignore[no-untyped-def]
    always_ahead: list[ParseAhead],
    tmp_path: Path,
) -> None:
    source = tmp_path / "nohdr.csv"
    source.write_text("foo,bar\n1,2\n")
    out = iocd("indicators", "import", str(source), "--format", "csv", code=1)
    assert out.startswith("error: header:")
    assert out.count("\n") == 1


def test_import_connections_sync_every_commit(
    iocd,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[int, int]] = []
    original = imports.import_rows

    def spy(service, *args, **kwargs):  # type: ignore[no-untyped-def]
        engine = service._store.engine
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            seen.append(
                (
                    raw.execute("PRAGMA synchronous").fetchone()[0],
                    raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
                )
            )
        return original(service, *args, **kwargs)

    source = tmp_path / "one.csv"
    source.write_text(HEADER + "FileMd5,44d88612fea8a8f36de82e1278abb02f,Audit,t,d\n")
    monkeypatch.setattr(imports, "import_rows", spy)  # the command imports it when it runs
    assert "1 created" in iocd("indicators", "import", str(source))
    assert seen == [(2, 65_536)]  # FULL
    with closing(sqlite3.connect(tmp_path / "data" / "iocd.sqlite3")) as db:
        assert db.execute("SELECT count(*) FROM audit").fetchone()[0] == 1
