"""Golden files for the telemetry readers: events as JSON, compared exactly.

Set IOCD_REGENERATE_GOLDEN=1 to rewrite the expected files from the current readers, then
review the diff before committing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from iocd.codecs.telemetry import ReadReport
from iocd.matching.columns import batch_to_events

GOLDEN = Path(__file__).parent / "golden"


def as_json(batches: Iterable[pa.RecordBatch], report: ReadReport) -> dict[str, Any]:
    events = [event for batch in batches for event in batch_to_events(batch)]
    rows = []
    for event in events:
        row = {name: getattr(event, name) for name in event.__slots__}
        row["time"] = event.time.isoformat()
        row["kind"] = event.kind.value
        rows.append({key: value for key, value in row.items() if value not in (None, "")})
    return {
        "events": rows,
        "report": {
            "events": report.events,
            "skipped": report.skipped,
            "reasons": dict(sorted(report.reasons.items())),
        },
    }


def check_golden(name: str, actual: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.expected.json"
    text = json.dumps(actual, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("IOCD_REGENERATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected
