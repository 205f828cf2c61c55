"""Shared by the STIX and MISP codec tests: a compact, readable form of what a reader yields."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from iocd.codecs.rows import CsvRow, ParsedItem
from iocd.domain.indicator import format_datetime

GOLDEN = Path(__file__).parent / "golden"


def summary(items: Iterable[ParsedItem]) -> list[dict[str, object]]:
    """Each item as plain data: an indicator's type, value and mapped fields, or the reason."""
    out: list[dict[str, object]] = []
    for item in items:
        if isinstance(item, CsvRow):
            f = item.fields
            entry: dict[str, object] = {
                "item": item.line,
                "type": f.indicator_type.value,
                "value": f.value,
                "title": f.title,
                "externalId": f.external_id,
            }
            if f.expiration_time is not None:
                entry["expirationTime"] = format_datetime(f.expiration_time)
            if f.category:
                entry["category"] = f.category
            if f.mitre_techniques:
                entry["mitreTechniques"] = list(f.mitre_techniques)
            out.append(entry)
        else:
            out.append({"item": item.line, "reason": item.reason, "raw": item.raw})
    return out


def check_golden(expected: Path, items: Iterable[ParsedItem]) -> None:
    """Compare with the expected file; write it when missing (review it before committing)."""
    got = summary(items)
    if not expected.exists():
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(expected.read_text())
