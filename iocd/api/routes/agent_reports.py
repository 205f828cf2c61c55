"""`POST /api/agents/reports`: an agent's alerts and telemetry in one (gzip) JSON batch.

Body: `{"batchId": uuid, "alerts": [{"indicatorId", "entity", "entityType", "event"}],
"events": [native events]}`, gzip-compressed or not. Events are read as native telemetry
(docs/telemetry.md) with the device fields set from the credential (a device reports only for
itself). Answer: `{"accepted", "duplicate", "events", "alerts", "rejected"}`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Request

from iocd.api.deps import Agent, Iocd
from iocd.api.errors import ApiError
from iocd.codecs.telemetry import ReadReport, TelemetryFormat, read_records
from iocd.domain.agents import AgentDevice
from iocd.errors import InvalidInput
from iocd.matching.columns import batch_to_events
from iocd.services.agent_reports import AgentAlert

router = APIRouter(prefix="/agents", tags=["agents"])
MAX_COMPRESSED = 32 * 1024 * 1024
MAX_EXPANDED = 256 * 1024 * 1024
MAX_ALERTS = 10_000


async def _raw(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_COMPRESSED:
            raise ApiError(413, "InvalidRequestBody", "the report is larger than 32 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _expand(data: bytes) -> bytes:
    """The body itself, or its gunzipped content (bounded: a zip bomb is refused)."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_EXPANDED)
    except zlib.error as exc:
        raise InvalidInput("body", f"broken gzip data ({exc})", "InvalidRequestBody") from None
    if inflater.unconsumed_tail:
        raise ApiError(413, "InvalidRequestBody", "the report expands past 256 MiB")
    return out


def _own(event: Any, device: AgentDevice, where: str) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidInput(where, "must be a native telemetry event object")
    return {**event, "device_id": device.device_id, "device_name": device.hostname}


def _ndjson(events: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(e, separators=(",", ":")) for e in events).encode()


def _batches(events: list[dict[str, Any]]) -> Iterator[pa.RecordBatch]:
    if events:
        yield from read_records(_ndjson(events), TelemetryFormat.NATIVE, report=ReadReport())


def _alerts(raw: Any, device: AgentDevice) -> tuple[list[AgentAlert], list[str]]:
    if not isinstance(raw, list) or len(raw) > MAX_ALERTS:
        raise InvalidInput("alerts", f"must be a list of at most {MAX_ALERTS} alerts")
    alerts: list[AgentAlert] = []
    rejected: list[str] = []
    for n, item in enumerate(raw):
        where = f"alerts[{n}]"
        try:
            if not isinstance(item, dict):
                raise InvalidInput(where, "must be an object")
            indicator = str(item.get("indicatorId", "")).strip()
            if not indicator.isdigit() or len(indicator) > 18:
                raise InvalidInput(f"{where}.indicatorId", "must be an indicator id")
            event = _own(item.get("event"), device, f"{where}.event")
            events = [e for b in _batches([event]) for e in batch_to_events(b)]
            if not events:
                raise InvalidInput(f"{where}.event", "is not a readable native event")
            alerts.append(AgentAlert(int(indicator), events[0]))
        except InvalidInput as error:
            rejected.append(error.message)
    return alerts, rejected


@router.post("/reports", summary="Deliver alerts and telemetry (idempotent by batchId)")
async def reports(request: Request, device: Agent, iocd: Iocd) -> dict[str, Any]:
    data = _expand(await _raw(request))
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("body", f"not valid JSON ({exc})", "InvalidRequestBody") from None
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object", "InvalidRequestBody")
    try:
        batch_id = str(uuid.UUID(str(body.get("batchId"))))
    except ValueError:
        raise InvalidInput("batchId", "must be a UUID", "MissingRequiredParameter") from None
    raw_events = body.get("events") or []
    if not isinstance(raw_events, list):
        raise InvalidInput("events", "must be a list of native telemetry events")
    events = [_own(e, device, f"events[{n}]") for n, e in enumerate(raw_events)]
    alerts, rejected = _alerts(body.get("alerts") or [], device)
    result = await asyncio.to_thread(
        iocd.agent_reports.deliver, device, batch_id, lambda: _batches(events), alerts
    )
    return {
        "accepted": result.accepted,
        "duplicate": result.duplicate,
        "events": result.events,
        "alerts": result.alerts,
        "rejected": rejected + result.rejected,
    }
