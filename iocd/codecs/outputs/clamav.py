"""A ClamAV hash signature database (`.hsb`): `hash:*:name:73` per line. `*` stands for the
unknown file size (which needs functionality level 73, ClamAV 0.98 and later); the engine
tells MD5, SHA-1 and SHA-256 apart by length, so one file holds all three. `#` lines are
comments, and a database of comments only loads (an empty one does not). Pure, streamed."""

from __future__ import annotations

from collections.abc import Iterator

from iocd.codecs.outputs.header import footer, header
from iocd.domain.outputs import ACTION, ACTION_TEXT, ID, TYPE, TYPE_TEXT, VALUE, Selection

__all__ = ["render_hsb", "signature_name"]

MIN_FLEVEL = 73


def signature_name(entry_id: int, type_name: str, action: str) -> str:
    """`iocd.Block.FileSha256.42` (ClamAV reports it with `.UNOFFICIAL` appended)."""
    return f"iocd.{action}.{type_name}.{entry_id}"


def render_hsb(selection: Selection) -> Iterator[str]:
    yield from header(selection, "ClamAV hash signatures (.hsb)")
    tally = selection.tally
    for chunk in selection.chunks():
        if not len(chunk):
            continue
        tally.written += len(chunk)
        yield "".join(
            [
                f"{r[VALUE]}:*:iocd.{ACTION_TEXT[r[ACTION]]}.{TYPE_TEXT[r[TYPE]]}.{r[ID]}:"
                f"{MIN_FLEVEL}\n"
                for r in chunk.rows
            ]
        )
    yield from footer(selection, noun="signatures")
