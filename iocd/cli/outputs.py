"""`iocd outputs ...`: write the outputs for enforcement points to files, list their URLs."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.table import Table

from iocd.cli.common import clear_errors, console, errors, operator, state
from iocd.codecs.outputs import render
from iocd.domain.outputs import (
    SURICATA_LISTS,
    OutputKind,
    OutputRequest,
    Selection,
    SuricataList,
    catalogue,
    output_path,
    parse_kind,
)

app = typer.Typer(
    help="Outputs for enforcement points: EDLs, RPZ, Suricata, ClamAV.", no_args_is_help=True
)
PARTIAL = ".partial"


@app.command("write")
def write(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="edl, rpz, suricata, suricata-list or clamav.")],
    file: Annotated[str, typer.Argument(help="Where to write it; - for standard output.")],
    type_: Annotated[
        str,
        typer.Option(
            "--type", help="EDL type (ip, domain, url, sha256, sha1, md5) or Suricata list name."
        ),
    ] = "",
    group: Annotated[
        list[str] | None, typer.Option(help="A device group whose view this is (repeatable).")
    ] = None,
    cap: Annotated[
        int | None, typer.Option(help="At most N entries (severity, then recency, then id).")
    ] = None,
    ip: Annotated[bool, typer.Option("--ip", help="RPZ: add rpz-ip triggers.")] = False,
    domains: Annotated[
        str, typer.Option(help="Suricata: domains as rules (subdomains too) or dataset (exact).")
    ] = "rules",
    sid_base: Annotated[int, typer.Option(help="Suricata: the first sid.")] = 1_000_000_000,
    comments: Annotated[bool, typer.Option(help="EDL: add a # header and footer.")] = False,
) -> None:
    """Write one output. Suricata rules also write their lists next to FILE. The file is
    written under a temporary name and renamed when complete."""
    with clear_errors():
        request = OutputRequest(
            parse_kind(kind),
            type_,
            tuple(group or ()),
            cap,
            rpz_ip=ip,
            suricata_domains=domains,
            sid_base=sid_base,
        )
        selection = state(ctx).instance().outputs.select(request, operator())
        if file == "-":
            _write_lines(selection, sys.stdout, comments, None)
        else:
            _write_file(selection, Path(file), comments)
        _report(selection, file)


def _write_lines(
    selection: Selection, out: TextIO, comments: bool, lists: Mapping[str, TextIO] | None
) -> None:
    def on_list(found: SuricataList, line: str) -> None:
        if lists is not None:
            lists[found.name].write(line)

    out.writelines(render(selection, comments=comments, on_list=on_list))


def _write_file(selection: Selection, target: Path, comments: bool) -> None:
    """The file, and for Suricata rules every list beside it, each renamed into place once
    all are complete (lists first: the rules refer to them)."""
    targets = [target]
    if selection.request.kind is OutputKind.SURICATA:
        targets = [target.with_name(found.file_name) for found in SURICATA_LISTS.values()]
        targets.append(target)
    partial = {path: path.with_name(path.name + PARTIAL) for path in targets}
    with ExitStack() as stack:
        opened = {
            path: stack.enter_context(part.open("w", encoding="utf-8", newline="\n"))
            for path, part in partial.items()
        }
        lists = {
            found.name: opened[target.with_name(found.file_name)]
            for found in SURICATA_LISTS.values()
            if target.with_name(found.file_name) in opened
        }
        _write_lines(selection, opened[target], comments, lists)
    for path in targets:
        partial[path].replace(path)


def _report(selection: Selection, file: str) -> None:
    tally = selection.tally
    where = "standard output" if file == "-" else file
    extra = ""
    if selection.request.kind is OutputKind.SURICATA and file != "-":
        extra = " (and its lists beside it)"
    errors.print(
        f"wrote {where}{extra}: {tally.written:,} entries, {selection.omitted_by_cap:,} left out "
        f"by the cap, {tally.exempted:,} by Allowed indicators; change sequence "
        f"{selection.sequence:,}",
        highlight=False,
    )


@app.command("list")
def list_outputs(
    ctx: typer.Context,
    base_url: Annotated[
        str | None, typer.Option(help="The server's address as pollers reach it.")
    ] = None,
) -> None:
    """The outputs and the URLs they are served at (poll them with a token: docs/outputs.md)."""
    with clear_errors():
        settings = state(ctx).settings
        base = (base_url or f"http://{settings.host}:{settings.port}").rstrip("/") + "/api"
        table = Table("kind", "name", "url", box=None)
        for kind, name in catalogue():
            table.add_row(kind.value, name, base + output_path(kind, name))
        console.print(table, highlight=False)
