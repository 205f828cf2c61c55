"""`iocd feeds ...`: add, list, run, history, enable, disable, remove (docs/feeds.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from iocd.cli.common import clear_errors, console, operator, print_json, state
from iocd.domain.feed_wire import feed_to_wire, run_to_wire
from iocd.domain.feeds import (
    DEFAULT_INTERVAL_SECONDS,
    FeedOptions,
    FeedRun,
    NewFeed,
    make_defaults,
    parse_kind,
)
from iocd.domain.indicator import format_datetime
from iocd.domain.types import parse_indicator_type

app = typer.Typer(
    help="Feeds: TAXII collections, MISP feeds and plain-text or CSV lists, polled by iocd serve.",
    no_args_is_help=True,
)


@app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A short name; indicators get Feed:<name>.")],
    url: Annotated[
        str, typer.Argument(help="http(s) or file URL, or a path (MISP: the feed folder).")
    ],
    kind: Annotated[str, typer.Option(help="list, csv, misp or taxii.")] = "list",
    action: Annotated[str, typer.Option(help="Action of every indicator.")] = "Audit",
    severity: Annotated[str | None, typer.Option(help="Severity of every indicator.")] = None,
    expires_days: Annotated[
        int | None, typer.Option(help="Expiry, in days after the value is (re)sent.")
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option(help="Device group (repeat for several; none = all).")
    ] = None,
    cap: Annotated[int | None, typer.Option(help="Keep at most this many values.")] = None,
    interval: Annotated[
        int, typer.Option(help="Seconds between runs (at least 60).")
    ] = DEFAULT_INTERVAL_SECONDS,
    column: Annotated[
        str | None, typer.Option(help="CSV: value column, a header name or a 1-based number.")
    ] = None,
    delimiter: Annotated[str, typer.Option(help="CSV delimiter (\\t for a tab).")] = ",",
    comment: Annotated[str, typer.Option(help="Comment prefix.")] = "#",
    header: Annotated[
        bool | None, typer.Option(help="CSV: whether the first row is a header.")
    ] = None,
    indicator_type: Annotated[
        str | None, typer.Option("--type", help="Force this type instead of detecting it.")
    ] = None,
    collection: Annotated[str | None, typer.Option(help="TAXII: the collection id.")] = None,
    username: Annotated[str | None, typer.Option(help="User for TAXII or HTTP auth.")] = None,
    password_env: Annotated[
        str | None, typer.Option(help="Environment variable that holds the password.")
    ] = None,
    include_non_ids: Annotated[
        bool, typer.Option(help="MISP: take attributes whose to_ids is off too.")
    ] = False,
    disabled: Annotated[bool, typer.Option(help="Add it without running it.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Add a feed. `iocd serve` polls it every --interval seconds; `iocd feeds run` runs it now."""
    with clear_errors():
        options = FeedOptions(
            column=column,
            delimiter="\t" if delimiter == "\\t" else delimiter,
            comment=comment,
            header=header,
            indicator_type=parse_indicator_type(indicator_type) if indicator_type else None,
            collection=collection,
            username=username,
            password_env=password_env,
            include_non_ids=include_non_ids,
        )
        new = NewFeed(
            name=name,
            kind=parse_kind(kind),
            url=url,
            options=options,
            defaults=make_defaults(action, severity, expires_days, group or []),
            cap=cap,
            interval_seconds=interval,
            enabled=not disabled,
        )
        feed = state(ctx).instance().feeds.add(operator(), new)
        if as_json:
            print_json(feed_to_wire(feed))
            return
        console.print(
            f"added feed {feed.name} ({feed.kind.value}, every {feed.interval_seconds} s); "
            f"its indicators are {feed.owner}",
            highlight=False,
        )


@app.command("list")
def list_(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List feeds with their last run."""
    with clear_errors():
        rows = state(ctx).instance().feeds.list(operator())
        if as_json:
            print_json([feed_to_wire(f, r) for f, r in rows])
            return
        table = Table("name", "kind", "url", "action", "every", "enabled", "last run", "result")
        for feed, run in rows:
            table.add_row(
                feed.name,
                feed.kind.value,
                feed.url,
                feed.defaults.action.value,
                f"{feed.interval_seconds} s",
                "yes" if feed.enabled else "no",
                format_datetime(run.started_at)[:19] if run else "never",
                _summary(run) if run else "",
            )
        console.print(table)


@app.command()
def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The feed.")],
    full: Annotated[
        bool, typer.Option(help="Resend every value (no diff, no conditional request).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run a feed now and print what the run did; exit 1 if it failed."""
    with clear_errors():
        result = state(ctx).instance().feeds.run(operator(), name, full=full)
        if as_json:
            print_json(run_to_wire(result))
        else:
            console.print(f"feed {name}: {_summary(result)}", highlight=False)
            for item, reason in result.skip_reasons[:20]:
                console.print(f"  skipped {item}: {reason}", highlight=False)
            if result.skipped > 20:
                console.print(f"  ... and {result.skipped - 20:,} more skipped", highlight=False)
        if result.error is not None:
            raise typer.Exit(1)


@app.command()
def history(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The feed.")],
    top: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The feed's runs, newest first."""
    with clear_errors():
        runs = state(ctx).instance().feeds.history(operator(), name, top)
        if as_json:
            print_json([run_to_wire(r) for r in runs])
            return
        table = Table("started", "seconds", "outcome", "fetched", "added", "updated")
        table.add_column("withdrawn")
        table.add_column("unchanged")
        table.add_column("skipped")
        table.add_column("error")
        for r in runs:
            table.add_row(
                format_datetime(r.started_at)[:19],
                f"{r.seconds:.1f}",
                r.outcome.value + (" (full)" if r.full else ""),
                f"{r.fetched:,}",
                f"{r.added:,}",
                f"{r.updated:,}",
                f"{r.withdrawn:,}",
                f"{r.unchanged:,}",
                f"{r.skipped:,}",
                r.error or "",
            )
        console.print(table)


@app.command()
def enable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The feed.")]) -> None:
    """Let `iocd serve` poll the feed again."""
    with clear_errors():
        state(ctx).instance().feeds.set_enabled(operator(), name, True)
        console.print(f"feed {name} enabled", highlight=False)


@app.command()
def disable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The feed.")]) -> None:
    """Stop polling the feed (its indicators stay)."""
    with clear_errors():
        state(ctx).instance().feeds.set_enabled(operator(), name, False)
        console.print(f"feed {name} disabled", highlight=False)


@app.command()
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The feed.")],
    withdraw: Annotated[
        bool, typer.Option(help="Withdraw every indicator the feed owns too.")
    ] = False,
) -> None:
    """Remove a feed and its history (its indicators stay unless --withdraw)."""
    with clear_errors():
        count = state(ctx).instance().feeds.remove(operator(), name, withdraw=withdraw)
        suffix = f"; {count:,} indicators withdrawn" if withdraw else ""
        console.print(f"feed {name} removed{suffix}", highlight=False)


def _summary(run: FeedRun) -> str:
    if run.error is not None:
        return f"{run.outcome.value}: {run.error}"
    if run.outcome.value == "not-modified":
        return "not modified"
    return (
        f"{run.outcome.value}{' (full pass)' if run.full else ''}: {run.fetched:,} fetched, "
        f"{run.added:,} added, {run.updated:,} updated, {run.withdrawn:,} withdrawn, "
        f"{run.unchanged:,} unchanged, {run.skipped:,} skipped in {run.seconds:.1f} s"
    )
