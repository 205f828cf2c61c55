"""What every command shares: the instance for the chosen data directory, the acting principal,
output helpers, and one place that turns errors into a single clear line."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from iocd.cli.collector import started
from iocd.clock import Clock, SystemClock
from iocd.compose import Instance, build, open_reference
from iocd.config import Settings
from iocd.domain.principal import Principal, Role
from iocd.errors import IocdError
from iocd.reference.warninglists import WarninglistsReference

# Off a terminal (pipes, CI logs) Rich would wrap at 80 columns; keep lines whole instead.
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, soft_wrap=True)


@dataclass
class CliState:
    """Options given before the command (`iocd --data-dir D indicators ...`), and the instance
    they make, built when a command first asks for it (opening the store is a large part of a
    command's start), with each service built when the command first uses it. The clock and
    the reference data are the instance's, there before it: an import starts reading its file
    with them first."""

    settings: Settings = field(default_factory=Settings.from_env)
    clock: Clock = field(default_factory=SystemClock)
    reference: WarninglistsReference = field(default_factory=open_reference)
    _instance: Instance | None = None

    def instance(self) -> Instance:
        if self._instance is None:
            self._instance = build(
                self.settings, clock=self.clock, reference=self.reference, eager=False
            )
            started()
        return self._instance


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def operator(door: str = "Cli") -> Principal:
    """The person at the terminal: a global administrator of the local data directory."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "operator"
    return Principal(name, Role.GLOBAL_ADMINISTRATOR, door, display_name=f"{name} (CLI)")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn iocd errors into one line on stderr and exit code 1."""
    try:
        yield
    except IocdError as error:
        errors.print(Text("error: ", style="bold red") + Text(error.message), highlight=False)
        raise typer.Exit(1) from None
