"""External dynamic lists (PAN-OS, FortiGate threat feeds, and any firewall that polls a plain
list): one value per line, of one type. Comments are optional, since some firewalls log each
comment line as an invalid entry. Pure, streamed (one block of lines per chunk of entries)."""

from __future__ import annotations

from collections.abc import Iterator

from iocd.codecs.outputs.header import footer, header
from iocd.domain.outputs import VALUE, Selection

__all__ = ["render_edl"]


def render_edl(selection: Selection, *, comments: bool = False) -> Iterator[str]:
    if comments:
        yield from header(selection, f"external dynamic list: {selection.request.name}")
    tally = selection.tally
    for chunk in selection.chunks():
        if len(chunk):
            tally.written += len(chunk)
            yield "".join([f"{row[VALUE]}\n" for row in chunk.rows])
    if comments:
        yield from footer(selection)
