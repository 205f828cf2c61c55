"""`iocd scan` (match telemetry files against the list) and `iocd explain` (why a decision)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any, TextIO

import pyarrow as pa
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from iocd.cli.collector import paused, quick_switches
from iocd.cli.common import clear_errors, console, operator, print_json, state
from iocd.codecs.telemetry import ReadReport, TelemetryFormat, read_telemetry
from iocd.codecs.telemetry.read_ahead import ReadAhead, read_ahead
from iocd.domain.alerts import Detection
from iocd.domain.indicator import format_datetime
from iocd.errors import InvalidInput
from iocd.policy.explain import decision_to_wire, explain_lines
from iocd.services.detection import SCAN_BATCH, DetectionService, ScanReport


def _format(raw: str | None) -> TelemetryFormat | None:
    if not raw:
        return None
    try:
        return TelemetryFormat(raw.lower())
    except ValueError:
        names = ", ".join(f.value for f in TelemetryFormat)
        raise InvalidInput("--format", f"unknown format {raw!r}; use one of {names}") from None


def _detection_line(detection: Detection) -> dict[str, Any]:
    event = detection.event
    return {
        "indicatorId": str(detection.indicator_id),
        "entityType": detection.entity_type,
        "entity": detection.entity,
        "deviceId": event.device_id,
        "deviceName": event.device_name,
        "deviceGroup": event.device_group,
        "eventTime": format_datetime(event.time),
        "eventKind": event.kind.value,
        "source": event.source,
        "decision": decision_to_wire(detection.decision),
    }


def _stored(
    detection: DetectionService, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """The batches, each stored (for later retro-hunts) before it is handed on."""
    for batch in batches:
        detection.ingest([batch], operator())
        yield batch


def scan(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Telemetry files (gzip is read as such).")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="native, sysmon, zeek, ecs or defender (default: detect)."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            help="Write each alerting match as a JSON line to this file (- for standard "
            "output) instead of raising alerts in the store."
        ),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(help="Also store the events, so later indicators retro-hunt them."),
    ] = False,
) -> None:
    """Scan telemetry files against the list: alerts go to the store (or JSON lines)."""
    with clear_errors():
        chosen = _format(fmt)
        for path in paths:
            if not path.is_file():
                raise InvalidInput(str(path), "is not a file")
        read = ReadReport()

        def reader(path: Path) -> ReadAhead[pa.RecordBatch]:
            return read_ahead(read_telemetry([path], chosen, report=read, batch_size=SCAN_BATCH))

        # The first file is being read while the store opens and the index loads.
        with quick_switches(), closing(reader(paths[0])) as first:
            detection = state(ctx).instance().detection
            with paused():
                detection.keeper.refresh()
                _scan_files(detection, paths, first, reader, read, output, keep)


def _scan_files(
    detection: DetectionService,
    paths: list[Path],
    first: ReadAhead[pa.RecordBatch],
    reader: Callable[[Path], ReadAhead[pa.RecordBatch]],
    read: ReadReport,
    output: str | None,
    keep: bool,
) -> None:
    report = ScanReport()
    stored = historical = 0
    sink: TextIO | None = None
    if output == "-":
        sink = sys.stdout
    elif output:
        sink = open(output, "w", encoding="utf-8")  # noqa: SIM115
    try:
        with Progress(
            TextColumn("[bold]scanning"),
            BarColumn(),
            TextColumn("{task.fields[events]:,} events, {task.fields[alerts]:,} alerts"),
            TimeElapsedColumn(),
            console=console if sink is not sys.stdout else None,
            disable=sink is sys.stdout or not console.is_terminal,
        ) as progress:
            task = progress.add_task("scan", total=len(paths), events=0, alerts=0)
            for number, path in enumerate(paths):
                with closing(first if number == 0 else reader(path)) as ahead:
                    if keep and sink is None:  # stored now, scanned below by the engine
                        for batch in _stored(detection, ahead):
                            stored += batch.num_rows
                            progress.update(task, events=stored)
                        progress.advance(task)
                        continue
                    batches: Iterator[pa.RecordBatch] = ahead
                    if keep:
                        batches = _stored(detection, batches)
                    parts = (
                        detection.scan_many(batches)
                        if sink is None
                        else (detection.scan(b, keep=True, record=False) for b in batches)
                    )
                    for part in parts:
                        if sink is not None:
                            for found in part.detections:
                                sink.write(json.dumps(_detection_line(found)) + "\n")
                            part.detections = []
                        report.add(part)
                        progress.update(
                            task,
                            events=report.events,
                            alerts=report.alerts_created + len(report.detections),
                        )
                progress.advance(task)
            if keep and sink is None:
                # As `iocd hunt` and the server do: indicators changed since the last hunt
                # search the stored telemetry first, then what is stored and not scanned yet
                # (these files included) is scanned once, moving the engine's cursor past it,
                # so the engine never scans the same events again.
                step = detection.step()
                report.add(step.scanned)
                historical = step.hunted.alerts_created + step.hunted.alerts_updated
    finally:
        if sink is not None and sink is not sys.stdout:
            sink.close()
    summary = (
        f"stored {stored:,} events from {len(paths)} file(s); scanned {report.events:,} "
        f"stored events: "
        if keep and sink is None
        else f"scanned {report.events:,} events from {len(paths)} file(s): "
    )
    summary += f"{report.matched_events:,} matched; "
    if sink is None:
        summary += f"{report.alerts_created:,} alerts raised, {report.alerts_updated:,} updated"
        if historical:
            summary += f"; retro-hunt: {historical:,} historical alerts raised or updated"
    else:
        summary += f"alerting matches written to {output}"
    if read.skipped:
        summary += f"\nread: {read.summary()}"
        for sample in read.samples:
            summary += f"\n  {sample}"
    print(summary, file=sys.stderr if sink is sys.stdout else sys.stdout)


def explain(
    ctx: typer.Context,
    device: Annotated[str, typer.Option(help="Device id or name.")],
    sha256: Annotated[str | None, typer.Option()] = None,
    sha1: Annotated[str | None, typer.Option()] = None,
    md5: Annotated[str | None, typer.Option()] = None,
    certificate: Annotated[str | None, typer.Option(help="Signer thumbprint (SHA-1).")] = None,
    ip: Annotated[str | None, typer.Option()] = None,
    domain: Annotated[str | None, typer.Option()] = None,
    url: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print what the list decides for an entity on a device, and why (the precedence trace)."""
    with clear_errors():
        given = {
            k: v
            for k, v in {
                "sha256": sha256,
                "sha1": sha1,
                "md5": md5,
                "certificate": certificate,
                "ip": ip,
                "domain": domain,
                "url": url,
            }.items()
            if v
        }
        explained = state(ctx).instance().detection.explain(device, given, operator())
        if as_json:
            print_json(
                {
                    "device": explained.device_id,
                    "deviceName": explained.device_name,
                    "deviceGroup": explained.device_group,
                    "entities": [
                        {
                            "entityType": item.entity_type,
                            "entity": item.entity,
                            "decision": decision_to_wire(item.decision),
                            "trace": explain_lines(item.decision),
                        }
                        for item in explained.items
                    ],
                }
            )
            return
        console.print(
            f"device {explained.device_name} ({explained.device_id}), "
            f"group {explained.device_group}",
            highlight=False,
        )
        for item in explained.items:
            console.print(f"\n{item.entity_type} {item.entity}", style="bold", highlight=False)
            for line in explain_lines(item.decision):
                console.print(f"  {line}", highlight=False)


def hunt(ctx: typer.Context) -> None:
    """Retro-hunt and catch up, once: fold indicator changes, search stored telemetry for the
    indicators created or changed since the last hunt (historical alerts), and scan telemetry
    stored but not scanned yet. `iocd serve` does this continuously."""
    with clear_errors():
        step = state(ctx).instance().detection.step()
        console.print(
            f"retro-hunt: {step.hunted.events:,} stored events matched new or changed "
            f"indicators; {step.hunted.alerts_created:,} historical alerts raised, "
            f"{step.hunted.alerts_updated:,} updated\n"
            f"catch-up scan: {step.scanned.events:,} events, "
            f"{step.scanned.alerts_created:,} alerts raised",
            highlight=False,
        )
