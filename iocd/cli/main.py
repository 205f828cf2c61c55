"""The `iocd` command: one Typer app; each group lives in its own module, imported when used
(cli.lazy)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, ClassVar

import typer

from iocd import __version__
from iocd.cli.common import CliState, clear_errors, console, state
from iocd.cli.lazy import Lazy, LazyGroup
from iocd.config import Settings


class Commands(LazyGroup):
    """Every command but the few defined here lives in its own module, imported when used."""

    lazy: ClassVar[dict[str, Lazy]] = {
        "scan": Lazy("iocd.cli.detection", "scan"),
        "explain": Lazy("iocd.cli.detection", "explain"),
        "hunt": Lazy("iocd.cli.detection", "hunt"),
        "demo": Lazy("iocd.cli.demo", "demo"),
        "indicators": Lazy("iocd.cli.indicators", "app"),
        "alerts": Lazy("iocd.cli.alerts", "app"),
        "investigations": Lazy("iocd.cli.investigations", "app"),
        "apps": Lazy("iocd.cli.accounts", "apps"),
        "users": Lazy("iocd.cli.accounts", "users"),
        "groups": Lazy("iocd.cli.accounts", "groups"),
        "agents": Lazy("iocd.cli.agents", "app"),
        "connectors": Lazy("iocd.cli.connectors", "app"),
        "feeds": Lazy("iocd.cli.feeds", "app"),
        "outputs": Lazy("iocd.cli.outputs", "app"),
    }
    order = (
        *("scan", "explain", "hunt", "demo", "version", "csv-template", "serve"),
        *("indicators", "alerts", "investigations", "apps", "users", "groups", "agents"),
        *("connectors", "feeds", "outputs", "db"),
    )
    """As `iocd --help` lists them: the commands, then the groups."""


app = typer.Typer(
    help="iocd: one list of indicators of compromise, honoured by every engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=Commands,
)
db = typer.Typer(help="The store: migrations and status.", no_args_is_help=True)
app.add_typer(db, name="db")


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (env IOCD_DATA_DIR).")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Store URL (env IOCD_DATABASE_URL); default SQLite in the data directory."
        ),
    ] = None,
) -> None:
    settings = Settings.from_env()
    if data_dir is not None:
        settings = settings.with_overrides(data_dir=data_dir.expanduser())
    if database_url is not None:
        settings = settings.with_overrides(database_url=database_url)
    ctx.obj = CliState(settings)


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"iocd {__version__}")


@db.command()
def upgrade(ctx: typer.Context) -> None:
    """Create or migrate the store to the current schema (idempotent)."""
    with clear_errors():
        instance = state(ctx).instance()
        console.print(f"store ready: {instance.describe_store()}", highlight=False)
        console.print(
            f"{instance.indicators.active_count():,} active indicators, "
            f"change sequence at {instance.indicators.last_sequence():,}",
            highlight=False,
        )


@app.command("csv-template")
def csv_template(
    file: Annotated[str, typer.Argument(help="Where to write it; - for standard output.")] = "-",
) -> None:
    """Write a sample CSV with one example row per indicator type."""
    from iocd.codecs.csv import write_template

    if file == "-":
        write_template(sys.stdout)
        return
    with open(file, "w", newline="", encoding="utf-8") as out:
        write_template(out)
    console.print(f"wrote {file}", highlight=False)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to listen on (env IOCD_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env IOCD_PORT).")] = None,
) -> None:
    """Run the server (portal at /, API at /api, background workers) with Uvicorn."""
    import os

    import uvicorn

    with clear_errors():
        settings = state(ctx).settings
        settings = settings.with_overrides(host=host or settings.host, port=port or settings.port)
        # The server builds its own Settings from the environment (doors never import each other).
        os.environ.update(settings.to_env())
        instance = state(ctx).instance()
        tenant = instance.accounts.tenant_id()
        base = f"http://{settings.host}:{settings.port}"
        console.print(
            f"iocd {__version__} serving on {base} ({instance.describe_store()})", highlight=False
        )
        console.print(
            f"Portal: {base}/  (open it in a browser; on the first run it asks you to create\n"
            "  the first global administrator, then you sign in with that user name and password)\n"
            f"API: {base}/api  (OpenAPI at {base}/docs)\n"
            f"Token URL: {base}/{tenant}/oauth2/v2.0/token\n"
            "API clients: register an application and use its client id and secret:\n"
            "  iocd apps create --name my-tool --role Ti.ReadWrite.All\n"
            "or give a person a personal API token:\n"
            "  iocd users create alice --role SecurityAdministrator && iocd users token alice",
            highlight=False,
        )
        uvicorn.run(
            "iocd.server:create_server_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            log_level="info",
            # Long OData filters (20 or'ed hashes, in-lists) make long request lines.
            h11_max_incomplete_event_size=512 * 1024,
        )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
