"""Telemetry ingest (`POST /api/telemetry`) and the decision trace (`GET /api/explain`).

Ingest stores the events durably before it answers. When the engine cannot keep up it answers
429 (too many stored segments wait to be scanned) or 503 (every ingest slot is busy) with
`Retry-After`, and stores nothing, so a sender retries instead of losing data.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import APIRouter, Query, Request

from iocd.api.deps import Caller, Iocd, Sender
from iocd.api.errors import ApiError
from iocd.codecs.telemetry import ReadReport, TelemetryFormat, read_records
from iocd.errors import InvalidInput
from iocd.policy.explain import decision_to_wire, explain_lines

router = APIRouter(tags=["telemetry"])

MAX_TELEMETRY_BYTES = 64 * 1024 * 1024
INGEST_SLOTS = 4
"""Requests parsed and stored at once; more wait for a slot briefly, then get 503."""
SLOT_WAIT_SECONDS = 2.0


class IngestGate:
    """Bounds concurrent ingests; one per app."""

    def __init__(self, slots: int = INGEST_SLOTS) -> None:
        self._slots = threading.BoundedSemaphore(slots)

    def acquire(self) -> bool:
        return self._slots.acquire(timeout=SLOT_WAIT_SECONDS)

    def release(self) -> None:
        self._slots.release()


def _format(raw: str | None) -> TelemetryFormat | None:
    if raw is None or not raw.strip():
        return None
    try:
        return TelemetryFormat(raw.strip().lower())
    except ValueError:
        names = ", ".join(f.value for f in TelemetryFormat)
        raise InvalidInput(
            "format", f"unknown telemetry format {raw!r}; use one of {names}"
        ) from None


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    too_big = ApiError(
        413, "InvalidRequestBody", f"the body is larger than {MAX_TELEMETRY_BYTES >> 20} MiB"
    )
    if declared and declared.isdigit() and int(declared) > MAX_TELEMETRY_BYTES:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_TELEMETRY_BYTES:
            raise too_big
        chunks.append(chunk)
    if not size:
        raise InvalidInput("body", "is empty: send a JSON array or JSON lines of events")
    return b"".join(chunks)


@router.post("/telemetry")
async def post_telemetry(
    request: Request,
    principal: Sender,
    chosen: Iocd,
    format: str | None = Query(None, description="native, sysmon, zeek, ecs or defender"),
) -> dict[str, Any]:
    """Store events (a JSON array, JSON lines, CSV or Parquet, gzip or not) for detection.

    The answer counts the events stored and the records skipped: by reason, and where the
    first few were (`file:line: reason`).
    """
    fmt = _format(format)
    detection = chosen.detection
    if detection.backlog() > chosen.settings.ingest_max_backlog:
        raise ApiError(
            429,
            "TooManyRequests",
            "detection is behind on stored telemetry; retry shortly",
            headers={"Retry-After": "2"},
        )
    data = await _body(request)
    gate: IngestGate = request.app.state.ingest_gate
    if not await asyncio.to_thread(gate.acquire):
        raise ApiError(
            503, "ServiceUnavailable", "every ingest slot is busy", headers={"Retry-After": "1"}
        )
    try:
        report = ReadReport()
        stored = await asyncio.to_thread(
            lambda: detection.ingest(read_records(data, fmt, report=report), principal)
        )
    except OSError as exc:
        raise ApiError(
            503,
            "ServiceUnavailable",
            f"telemetry could not be stored ({exc.strerror or exc}); nothing was kept",
            headers={"Retry-After": "5"},
        ) from None
    finally:
        gate.release()
    return {
        "accepted": stored,
        "skipped": report.skipped,
        "skippedReasons": dict(report.reasons.most_common(20)),
        "skippedSamples": report.samples[:5],
    }


@router.get("/explain")
def explain(
    principal: Caller,
    chosen: Iocd,
    device: str = Query(..., description="device id or name"),
    sha256: str | None = None,
    sha1: str | None = None,
    md5: str | None = None,
    certificate: str | None = None,
    ip: str | None = None,
    domain: str | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """Why the list decides what it decides for one entity on one device (SPEC section 4)."""
    entity = {
        "sha256": sha256,
        "sha1": sha1,
        "md5": md5,
        "certificate": certificate,
        "ip": ip,
        "domain": domain,
        "url": url,
    }
    given = {k: v for k, v in entity.items() if v}
    explained = chosen.detection.explain(device, given, principal)
    return {
        "device": explained.device_id,
        "deviceName": explained.device_name,
        "deviceGroup": explained.device_group,
        "entities": [
            {
                "entityType": item.entity_type,
                "entity": item.entity,
                "decision": decision_to_wire(item.decision),
                "trace": explain_lines(item.decision),
            }
            for item in explained.items
        ],
    }
