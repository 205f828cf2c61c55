"""`iocd investigations ...`: list, show, and run (investigate the alerts not investigated yet)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from iocd.cli.common import clear_errors, console, operator, print_json, state
from iocd.domain.indicator import format_datetime
from iocd.domain.investigations import investigation_to_wire, task_to_wire

app = typer.Typer(
    help="Automated investigations: every alert opens one; the list overrules the verdict.",
    no_args_is_help=True,
)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Running, Completed or Failed (all when omitted).")
    ] = None,
    top: Annotated[int, typer.Option(min=0, max=10_000)] = 50,
    skip: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List investigations, newest first."""
    with clear_errors():
        page = state(ctx).instance().investigations.list(operator(), status, top, skip)
        if as_json:
            print_json([investigation_to_wire(i) for i in page.items])
            return
        table = Table("id", "alert", "verdict from", "status", "outcome", "group", "opened")
        for i in page.items:
            table.add_row(
                str(i.id),
                str(i.alert_id),
                f"{i.source.value}: {i.detector}",
                i.status.value,
                i.outcome.value,
                i.rbac_group_name,
                format_datetime(i.created_at)[:19],
            )
        console.print(table)
        console.print(f"{len(page.items)} shown of {page.total}", highlight=False)


@app.command()
def show(
    ctx: typer.Context,
    investigation_id: Annotated[int, typer.Argument(help="Investigation id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one investigation: the verdict, its entities, every step and the tasks."""
    with clear_errors():
        item, tasks = state(ctx).instance().investigations.get(operator(), investigation_id)
        if as_json:
            print_json({**investigation_to_wire(item), "tasks": [task_to_wire(t) for t in tasks]})
            return
        data = investigation_to_wire(item)
        for name in ("entities", "steps"):
            data.pop(name)
        for name, value in data.items():
            console.print(f"[bold]{name}[/]: {value}", highlight=False)
        for e in item.entities:
            console.print(f"[bold]entity[/]: {e.kind} {e.value}", highlight=False)
        for s in item.steps:
            when = format_datetime(s.time)[:19]
            console.print(f"[bold]step[/] {when} {s.action}: {s.detail}", highlight=False)
        for t in tasks:
            console.print(
                f"[bold]task[/] {t.id} {t.device_name} {t.kind} {t.value}: {t.status.value}"
                + (f" ({t.result})" if t.result else ""),
                highlight=False,
            )


@app.command()
def run(ctx: typer.Context) -> None:
    """Investigate the alerts raised since the last pass (`iocd serve` does this on its own)."""
    with clear_errors():
        service = state(ctx).instance().investigations
        total = 0
        while count := service.run_pending():
            total += count
        console.print(f"investigated {total} alerts", highlight=False)
