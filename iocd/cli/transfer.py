"""`iocd indicators import FILE` and `iocd indicators export FILE`: streamed, with progress."""

from __future__ import annotations

import gc
import io
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, TextIO

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

from iocd.cli.common import clear_errors, console, errors, operator, print_json, state
from iocd.cli.filters import build_query
from iocd.codecs.ahead import BATCH_ROWS, ParseAhead
from iocd.codecs.csv import write_csv
from iocd.codecs.import_formats import (
    SNIFF_BYTES,
    ImportFormat,
    ImportOptions,
    choose_reader,
    detect_format,
    parse_format,
)
from iocd.codecs.misp_export import write_misp
from iocd.codecs.rows import as_parsed_rows
from iocd.codecs.stix_export import write_stix
from iocd.domain.indicator import Indicator
from iocd.errors import InvalidInput

if TYPE_CHECKING:
    from iocd.services.imports import ImportReport, ParsedRow

SHOWN_FAILURES = 20
MAX_JSON_ITEMS = 10_000
"""Items listed by `--json` (the counts cover every item)."""
IMPORT_CACHE_MIB = 128
"""SQLite page cache while importing: large imports insert into indexes at random places (the
indexes of a million indicators take about 100 MiB; the table pages are written once)."""
IMPORT_CHUNK_ROWS = 20_000
"""Rows per committed chunk at least: each commit writes back every index page the chunk
changed, and a chunk of random values changes most of the identity index's pages whatever
its size (seen at 1,000,000 rows: 15 s of commits with 5,000-row chunks, 8 s with 20,000)."""
PARSE_AHEAD_MIN_BYTES = 1 << 20
"""Files this large are read and validated in a second process (on a machine with two cores)."""
FIRST_CHUNK_DIVISOR = 4
"""With a read-ahead process the first chunk is this much smaller: storing starts once a few
rows are read (STIX 100k: about 0.4 s sooner), later chunks keep the commits few."""
READ_AHEAD_CHUNKS = 2
"""Chunks of rows the read-ahead process may have read before they are stored: it reads the
next chunk while this process writes one. With less room (16 batches, under one chunk) each
side waited for the other in turn: the reader 1.8 s, the importer 1.5 s, in a 100,000-item
STIX import. A chunk waits as about 5 MB of pickled rows."""


COLLECT_EVERY_CHUNKS = 8
"""During an import, garbage is collected after a chunk with failed rows, and at least this
often."""


@contextmanager
def bulk_allocation() -> Iterator[Callable[[ImportReport], None]]:
    """Collect garbage between chunks instead of every few hundred allocations: a chunk
    allocates hundreds of thousands of objects that live until it commits, and the automatic
    collector would traverse them over and over (seen: 7 us per imported row, with its
    young-generation threshold raised to 50,000).

    The yielded function is called after each chunk. It collects what earlier chunks left in
    cycles: a failed row's exception holds its traceback, which holds the frames of the batch
    that raised it (so after any chunk with failures), and whatever else every few chunks. A
    collection visits every live object allocated since the import began (the next chunk, read
    ahead: 1-2 us per row), hence not after every chunk. Objects that exist before the import
    (modules, reference data) are frozen out of the collections. The collector's state is
    restored afterwards."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    failures, chunks = 0, 0

    def collect(report: ImportReport) -> None:
        nonlocal failures, chunks
        chunks += 1
        if report.failed + report.skipped != failures or chunks % COLLECT_EVERY_CHUNKS == 0:
            failures = report.failed + report.skipped
            gc.collect()

    try:
        yield collect
    finally:
        if enabled:
            gc.enable()


class CountingReader(io.RawIOBase):
    """A binary reader that counts bytes read, for a progress bar over any file size."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def import_file(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (MDE columns), a plain list (one value a line), a STIX 2.1 bundle or a "
            "MISP event (JSON)."
        ),
    ],
    file_format: Annotated[
        str, typer.Option("--format", help="auto, csv, list, stix or misp.")
    ] = "auto",
    indicator_type: Annotated[
        str | None, typer.Option("--type", "-t", help="Lists: force a type.")
    ] = None,
    action: Annotated[
        str, typer.Option("--action", "-a", help="Lists, STIX, MISP: action.")
    ] = "Audit",
    title: Annotated[
        str | None, typer.Option(help="Lists: title (default: the file name).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="Lists: description.")] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", "-s", help="Lists, STIX, MISP.")
    ] = None,
    expires: Annotated[
        str | None, typer.Option(help="Lists, STIX, MISP: ISO datetime or 30d.")
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="Lists, STIX, MISP.")
    ] = None,
    override: Annotated[
        str | None, typer.Option(help="Justification to override guardrails.")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write every failed line here (CSV).")] = None,
    include_non_ids: Annotated[
        bool, typer.Option(help="MISP: import attributes whose to_ids is off too.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the result item by item as JSON (the first 10,000 items), as the API "
            "answers.",
        ),
    ] = False,
) -> None:
    """Import indicators; valid rows are stored, each bad row is reported by line number."""
    with clear_errors():
        cli = state(ctx)
        cli.settings = cli.settings.with_overrides(
            sqlite_cache_mib=max(cli.settings.sqlite_cache_mib, IMPORT_CACHE_MIB),
            sqlite_bulk=True,
        )
        if not file.is_file():
            raise InvalidInput("FILE", f"{file} is not a readable file")
        named = parse_format(file_format, "--format")
        total = file.stat().st_size
        if named is None:
            with file.open("rb") as raw:
                named = detect_format(raw.read(SNIFF_BYTES))
        chosen: ImportFormat = named
        options = ImportOptions(
            action=action,
            severity=severity,
            expires=expires,
            groups=tuple(group or ()),
            indicator_type=indicator_type,
            title=title,
            description=description,
            include_non_ids=include_non_ids,
        )
        reader = choose_reader(
            chosen,
            options,
            source_name=file.name,
            now=cli.clock.now(),
            known_benign=cli.reference.reason,
        )
        chunk_rows = max(cli.settings.import_chunk_size, IMPORT_CHUNK_ROWS)
        with ExitStack() as stack:
            ahead: ParseAhead | None = None
            if total >= PARSE_AHEAD_MIN_BYTES and (os.cpu_count() or 1) > 1:
                # A second process reads and validates rows while this one stores them (a
                # STIX or MISP document is parsed whole there, before the first row comes).
                # It starts first, and reads while this process opens the store.
                depth = READ_AHEAD_CHUNKS * chunk_rows // BATCH_ROWS
                ahead = stack.enter_context(ParseAhead(reader, file, depth=depth, wait=False))
            # The services and the store are imported (and opened) while the child reads.
            from iocd.services.imports import import_rows, report_to_wire

            instance = cli.instance()
            importer = operator("Import")
            instance.indicators.check_import(importer, options.groups_for(chosen))
            rows: Iterable[ParsedRow]
            position: Callable[[], int]
            if ahead is not None:
                # The guardrails' reference lists load while the first rows are being read.
                threading.Thread(target=instance.reference.load, daemon=True).start()
                ahead.wait_until_ready()
                rows, position = ahead, _position_of(ahead)
            else:
                counting = CountingReader(stack.enter_context(file.open("rb")))
                stream = io.BufferedReader(counting, buffer_size=1 << 16)
                rows, position = as_parsed_rows(reader(stream)), lambda: counting.count
            progress = stack.enter_context(_progress(quiet=as_json))
            task = progress.add_task("importing", total=total)

            with bulk_allocation() as collect:

                def advance(r: ImportReport) -> None:
                    progress.update(task, completed=position(), description=f"{r.rows:,} rows")
                    collect(r)

                result = import_rows(
                    instance.indicators,
                    rows,
                    importer,
                    chunk_size=chunk_rows,
                    first_chunk=chunk_rows // FIRST_CHUNK_DIVISOR if ahead is not None else None,
                    override_justification=override,
                    on_chunk=advance,
                    keep_items=MAX_JSON_ITEMS if as_json else 0,
                    commit_behind=True,
                )
        if as_json:
            print_json(report_to_wire(result))
        else:
            _summarise(result, report, "item" if chosen.is_document else "line")
        if result.failed:
            raise typer.Exit(1)


def _position_of(ahead: ParseAhead) -> Callable[[], int]:
    """How far into the file the read-ahead process has read (for the progress bar)."""
    return lambda: ahead.position


def _progress(*, quiet: bool = False) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=quiet,
    )


def _summarise(result: ImportReport, report: Path | None, unit: str) -> None:
    """Skips are counted with the failures, and named: `18 failed (15 of them skipped)`."""
    not_stored = result.failed + result.skipped
    skipped = f" ({result.skipped:,} of them skipped)" if result.skipped else ""
    console.print(
        f"{result.rows:,} rows: {result.created:,} created, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged, {not_stored:,} failed{skipped}",
        highlight=False,
    )
    for line, reason in result.failures[:SHOWN_FAILURES]:
        errors.print(f"{unit} {line}: {reason}", highlight=False, markup=False)
    if not_stored > SHOWN_FAILURES:
        errors.print(f"... and {not_stored - SHOWN_FAILURES:,} more", highlight=False)
    if report is not None:
        import csv

        with report.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["Line", "Reason"])
            writer.writerows(result.failures)


def export_file(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="Where to write; - for standard output.")],
    indicator_type: Annotated[str | None, typer.Option("--type", "-t")] = None,
    action: Annotated[str | None, typer.Option("--action", "-a")] = None,
    severity: Annotated[str | None, typer.Option("--severity", "-s")] = None,
    created_by: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option("--group", "-g")] = None,
    search: Annotated[str | None, typer.Option()] = None,
    file_format: Annotated[
        str, typer.Option("--format", help="csv (MDE columns), stix (2.1 bundle) or misp (event).")
    ] = "csv",
) -> None:
    """Export active indicators as CSV in the MDE column order (re-imports unchanged), a STIX
    2.1 bundle or a MISP event."""
    with clear_errors():
        chosen = file_format.lower()
        if chosen not in ("csv", "stix", "misp"):
            raise InvalidInput("--format", f"{file_format!r}: expected csv, stix or misp")
        query = build_query(
            indicator_type=indicator_type,
            action=action,
            severity=severity,
            created_by=created_by,
            group=group,
            search=search,
        )
        instance = state(ctx).instance()
        rows = instance.indicators.iterate(query, operator())
        write: Callable[[Iterable[Indicator], TextIO], int] = partial(write_csv, extra_columns=True)
        if chosen == "stix":
            write = write_stix
        elif chosen == "misp":
            write = partial(write_misp, now=instance.clock.now())
        if file == "-":
            count = write(rows, sys.stdout)
        else:
            target = Path(file)
            unfinished = target.with_name(target.name + ".partial")
            with unfinished.open("w", newline="", encoding="utf-8") as out:
                count = write(rows, out)
            unfinished.replace(target)
        errors.print(f"exported {count:,} indicator(s)", highlight=False)
