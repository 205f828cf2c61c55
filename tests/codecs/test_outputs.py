"""Renderers of the outputs for enforcement points: golden files for each, escaping, rpz-ip
names, and streaming (nothing is read before it is written)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from iocd.codecs.outputs import render
from iocd.codecs.outputs.rpz import rpz_ip_name
from iocd.domain.outputs import (
    SURICATA_LISTS,
    OutputEntry,
    OutputKind,
    OutputRequest,
    Selection,
    SuricataList,
)
from tests.codecs.output_samples import AT, sample_entries, selection

GOLDEN = Path(__file__).parent / "golden" / "outputs"

CASES = {
    "edl-ip.txt": (OutputRequest(OutputKind.EDL, "ip"), {}),
    "edl-domain.txt": (OutputRequest(OutputKind.EDL, "domain"), {}),
    "edl-url.txt": (OutputRequest(OutputKind.EDL, "url"), {}),
    "edl-sha256-comments.txt": (OutputRequest(OutputKind.EDL, "sha256", cap=5), {"c": 1}),
    "rpz.zone": (OutputRequest(OutputKind.RPZ), {"p": 1}),
    "rpz-ip.zone": (OutputRequest(OutputKind.RPZ, rpz_ip=True), {}),
    "suricata.rules": (OutputRequest(OutputKind.SURICATA), {}),
    "suricata-dataset.rules": (OutputRequest(OutputKind.SURICATA, suricata_domains="dataset"), {}),
    "iocd-sha256-drop.lst": (OutputRequest(OutputKind.SURICATA_LIST, "iocd-sha256-drop"), {}),
    "iocd-domains-drop.lst": (OutputRequest(OutputKind.SURICATA_LIST, "iocd-domains-drop"), {}),
    "clamav.hsb": (OutputRequest(OutputKind.CLAMAV, cap=3), {}),
}


def check_golden(name: str, text: str) -> None:
    """Compare with the golden file; write it when missing (review it before committing)."""
    path = GOLDEN / name
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    request, flags = CASES[name]
    chosen = selection(
        request,
        sample_entries(),
        passthru=("good.evil.example",) if flags.get("p") else (),
        omitted=7 if request.cap else 0,
    )
    text = "".join(render(chosen, comments=bool(flags.get("c"))))
    check_golden(name, text)


def test_suricata_rules_hand_their_lists_to_the_sink() -> None:
    got: dict[str, list[str]] = {}

    def sink(found: SuricataList, line: str) -> None:
        got.setdefault(found.name, []).append(line)

    request = OutputRequest(OutputKind.SURICATA, suricata_domains="dataset")
    rules = "".join(render(selection(request, sample_entries()), on_list=sink))
    assert sorted(got) == [
        "iocd-domains-alert",
        "iocd-domains-drop",
        "iocd-md5-drop",
        "iocd-sha1-drop",
        "iocd-sha256-drop",
    ]
    for name in got:
        if "domains" not in name:
            assert f"{SURICATA_LISTS[name].file_name};" in rules
    assert "filesha256:iocd-sha256-drop.lst" in rules
    assert "iocd-sha256-alert" not in rules  # an empty hash list gets no rule


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("203.0.113.7", "32.7.113.0.203.rpz-ip"),
        ("198.51.100.0/24", "24.0.100.51.198.rpz-ip"),
        ("2001:db8::/32", "32.zz.db8.2001.rpz-ip"),
        ("2001:db8:0:1::7", "128.7.zz.1.0.db8.2001.rpz-ip"),
        ("::1", "128.1.zz.rpz-ip"),
        ("2001:db8:1:2:3:4:5:6", "128.6.5.4.3.2.1.db8.2001.rpz-ip"),
    ],
)
def test_rpz_ip_names(value: str, name: str) -> None:
    assert rpz_ip_name(value) == name


def test_renderers_stream() -> None:
    """Each line is written before the next entry is read: a million entries never sit in
    memory at once."""
    read: list[int] = []

    def entries() -> Iterator[OutputEntry]:
        for entry in sample_entries():
            read.append(entry.id)
            yield entry

    for kind in (OutputKind.EDL, OutputKind.RPZ, OutputKind.SURICATA, OutputKind.CLAMAV):
        read.clear()
        request = OutputRequest(kind, "domain" if kind is OutputKind.EDL else "")
        chosen = Selection(request, 1, AT, entries(), ("Ungrouped devices",))
        for line in render(chosen):
            if not line.startswith(("#", ";", "$", "@")):
                assert read == [1], kind
                break
        else:
            pytest.fail(f"{kind} wrote no entry")
