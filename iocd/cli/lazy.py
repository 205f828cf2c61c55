"""Command groups imported when they are used, so that a command starts without loading the
others: `iocd indicators import` imports the indicator commands and what they need, not the
agent, telemetry, connector or feed code of the other groups (a few tenths of a second at every
start, and the import's read-ahead process starts that much sooner).

`iocd --help` still lists every command (loading them all), in the order `LazyGroup.order`
gives; the commands behave as if they had been registered on the Typer app directly.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer._click import Command
from typer.core import TyperGroup


@dataclass(frozen=True, slots=True)
class Lazy:
    """A command function, or a Typer app (a group of commands), named `attribute` in
    `module`."""

    module: str
    attribute: str

    def load(self, name: str) -> Command:
        """The click command Typer would have made of it, named `name`."""
        found = getattr(importlib.import_module(self.module), self.attribute)
        if isinstance(found, typer.Typer):
            command: Command = typer.main.get_group(found)
        else:
            single = typer.Typer(add_completion=False)
            single.command(name=name)(found)
            command = typer.main.get_command(single)
        command.name = name
        return command


class LazyGroup(TyperGroup):
    """A Typer group with more commands in `lazy`, each imported on first use.

    Subclasses name their `lazy` commands and the `order` of every command in the help (names
    not in `order` follow, eager ones first); pass the subclass as `typer.Typer(cls=...)`.
    """

    lazy: ClassVar[dict[str, Lazy]] = {}
    order: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(self.commands, self.lazy, self.order)


class LazyCommands(MutableMapping[str, Command]):
    """Commands by name, in help order; a lazy one is loaded when it is first looked up (listing
    the names loads nothing)."""

    def __init__(
        self, eager: Mapping[str, Command], lazy: Mapping[str, Lazy], order: Iterable[str]
    ) -> None:
        self._loaded = dict(eager)
        self._lazy = dict(lazy)
        known = [name for name in order if name in eager or name in lazy]
        self._names = list(dict.fromkeys([*known, *eager, *lazy]))

    def __getitem__(self, name: str) -> Command:
        command = self._loaded.get(name)
        if command is None:
            if name not in self._lazy:
                raise KeyError(name)
            command = self._loaded[name] = self._lazy[name].load(name)
        return command

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command
        if name not in self._names:
            self._names.append(name)

    def __delitem__(self, name: str) -> None:
        if name not in self._names:
            raise KeyError(name)
        self._names.remove(name)
        self._loaded.pop(name, None)
        self._lazy.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
