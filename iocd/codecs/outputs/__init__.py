"""Renderers of the outputs for enforcement points (domain.outputs): each turns a Selection
into text lines, streamed, so a list of millions renders in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator

from iocd.codecs.outputs.clamav import render_hsb
from iocd.codecs.outputs.edl import render_edl
from iocd.codecs.outputs.rpz import render_rpz
from iocd.codecs.outputs.suricata import ListSink, render_list, render_rules
from iocd.domain.outputs import OutputKind, OutputRequest, Selection

__all__ = ["ListSink", "default_file_name", "media_type", "render"]

_MEDIA = {
    OutputKind.EDL: "text/plain; charset=utf-8",
    OutputKind.RPZ: "text/dns; charset=utf-8",
    OutputKind.SURICATA: "text/plain; charset=utf-8",
    OutputKind.SURICATA_LIST: "text/plain; charset=utf-8",
    OutputKind.CLAMAV: "text/plain; charset=utf-8",
}


def media_type(kind: OutputKind) -> str:
    return _MEDIA[kind]


def default_file_name(request: OutputRequest) -> str:
    """The name the file usually has where it is loaded (the list names are fixed: the rules
    refer to them)."""
    kind = request.kind
    if kind is OutputKind.EDL:
        return f"iocd-{request.name}.txt"
    if kind is OutputKind.RPZ:
        return "iocd.rpz.zone"
    if kind is OutputKind.SURICATA:
        return "iocd.rules"
    if kind is OutputKind.SURICATA_LIST:
        return f"{request.name}.lst"
    return "iocd.hsb"


def render(
    selection: Selection, *, comments: bool = False, on_list: ListSink | None = None
) -> Iterator[str]:
    """The output's lines. `comments` adds a header to EDLs (the other formats always have
    one); `on_list` receives the Suricata list lines while the rules render."""
    kind = selection.request.kind
    if kind is OutputKind.EDL:
        return render_edl(selection, comments=comments)
    if kind is OutputKind.RPZ:
        return render_rpz(selection)
    if kind is OutputKind.SURICATA:
        return render_rules(selection, on_list)
    if kind is OutputKind.SURICATA_LIST:
        return render_list(selection)
    return render_hsb(selection)
