"""External dynamic lists (PAN-OS, FortiGate threat feeds, and any firewall that polls a plain
list): one value per line, of one type. Comments are optional, since some firewalls log each
comment line as an invalid entry. Pure, streamed."""

from __future__ import annotations

from collections.abc import Iterator

from iocd.codecs.outputs.header import footer, header
from iocd.domain.outputs import Selection

__all__ = ["render_edl"]


def render_edl(selection: Selection, *, comments: bool = False) -> Iterator[str]:
    if comments:
        yield from header(selection, f"external dynamic list: {selection.request.name}")
    tally = selection.tally
    for entry in selection.entries:
        tally.written += 1
        yield f"{entry.value}\n"
    if comments:
        yield from footer(selection)
