"""`iocd demo`: fill a fresh data directory with a realistic generated data set."""

from __future__ import annotations

from typing import Annotated

import typer

from iocd.cli.common import clear_errors, console, operator, state
from iocd.services.demo import DemoSize, load_demo

DEFAULT = DemoSize()


def demo(
    ctx: typer.Context,
    indicators: Annotated[
        int, typer.Option(min=10, max=100_000, help="How many indicators.")
    ] = DEFAULT.indicators,
    devices: Annotated[int, typer.Option(min=1, max=10_000, help="How many devices.")] = (
        DEFAULT.devices
    ),
    events: Annotated[
        int, typer.Option(min=100, max=5_000_000, help="Telemetry events over the last 24 h.")
    ] = DEFAULT.events,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same values).")] = (
        DEFAULT.seed
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Load it even though indicators exist already.")
    ] = False,
) -> None:
    """Load a demo data set for a first look: device groups, indicators of every type and
    action, 50 devices and a day of telemetry with some matches (alerts, sightings)."""
    with clear_errors():
        instance = state(ctx).instance()
        size = DemoSize(indicators=indicators, devices=devices, events=events, seed=seed)
        with console.status("generating and loading the demo data set..."):
            summary = load_demo(instance, operator(), size, force=force)
        console.print(f"demo data loaded into {instance.describe_store()}:", highlight=False)
        for line in summary.lines():
            console.print(f"  {line}", highlight=False)
        console.print(
            "Next: iocd serve, then open the portal (or: iocd alerts list, iocd indicators list).",
            highlight=False,
        )
