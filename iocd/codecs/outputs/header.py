"""The comment block at the top and bottom of an output: what it is, which change sequence
it reflects, the device groups, the cap and what it left out. Pure."""

from __future__ import annotations

from collections.abc import Iterator

from iocd.domain.indicator import format_datetime
from iocd.domain.outputs import Selection

__all__ = ["footer", "header"]


def header(selection: Selection, title: str, mark: str = "#") -> Iterator[str]:
    request = selection.request
    yield f"{mark} {title}, written by iocd\n"
    changed = (
        f" ({format_datetime(selection.changed_at)})" if selection.changed_at is not None else ""
    )
    yield f"{mark} change sequence: {selection.sequence}{changed}\n"
    yield f"{mark} device groups: {', '.join(selection.view_groups)}\n"
    if request.cap is None:
        yield f"{mark} cap: none\n"
    else:
        yield (
            f"{mark} cap: {request.cap}; left out by the cap: {selection.omitted_by_cap} "
            "(kept by severity, then most recently updated, then lowest id)\n"
        )


def footer(selection: Selection, mark: str = "#", noun: str = "entries") -> Iterator[str]:
    tally = selection.tally
    yield (f"{mark} end: {tally.written} {noun}; {tally.exempted} left out by Allowed indicators\n")
