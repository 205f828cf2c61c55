"""The agent endpoints (docs/agent-protocol.md): enrolment tokens and the agent list for
administrators; enrolment, policy sync (snapshot, delta with long-poll) and status for devices.
Reports are in agent_reports.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from iocd.api.deps import Agent, Caller, Iocd, JsonBody
from iocd.domain.agents import (
    AgentDevice,
    EnrollmentToken,
    parse_device_report,
    parse_duration,
    parse_enforcement,
)
from iocd.domain.indicator import format_datetime
from iocd.errors import InvalidInput
from iocd.matching.snapshot import MEDIA_TYPE, UNCHANGED, update_to_wire
from iocd.services.agents import AgentStatus

router = APIRouter(prefix="/agents", tags=["agents"])
MAX_WAIT_SECONDS = 60
CHUNK = 1 << 20


def token_to_wire(token: EnrollmentToken, now: Any) -> dict[str, Any]:
    return {
        "id": token.token_id,
        "group": token.group,
        "createdAt": format_datetime(token.created_at),
        "createdBy": token.created_by,
        "expiresAt": format_datetime(token.expires_at),
        "maxUses": token.max_uses,
        "uses": token.uses,
        "revokedAt": format_datetime(token.revoked_at) if token.revoked_at else None,
        "state": token.state(now),
    }


def agent_to_wire(agent: AgentDevice, sequence: int, digest: str) -> dict[str, Any]:
    return {
        "deviceId": agent.device_id,
        "hostname": agent.hostname,
        "os": agent.os,
        "domain": agent.domain,
        "tags": list(agent.tags),
        "group": agent.group,
        "groupBound": agent.group_bound,
        "agentVersion": agent.agent_version,
        "enrolledAt": format_datetime(agent.enrolled_at),
        "lastContact": format_datetime(agent.last_contact),
        "appliedSequence": agent.applied_sequence,
        "currentSequence": sequence,
        "digestMatches": agent.applied_digest == digest if agent.applied_digest else None,
        "enforcement": {"files": agent.file_enforcement, "network": agent.network_enforcement},
    }


# -- administrators ---------------------------------------------------------------------------


@router.post("/enrollmentTokens", summary="Make an enrolment token (shown once)")
def create_token(principal: Caller, iocd: Iocd, body: JsonBody) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object", "InvalidRequestBody")
    uses = body.get("uses")
    if uses is not None and (not isinstance(uses, int) or isinstance(uses, bool)):
        raise InvalidInput("uses", "must be a whole number")
    group = body.get("group")
    if group is not None and not isinstance(group, str):
        raise InvalidInput("group", "must be a device group name")
    token, text = iocd.agents.create_enrollment_token(
        principal, group=group, expires_in=parse_duration(body.get("expires", "24h")), uses=uses
    )
    return {**token_to_wire(token, iocd.clock.now()), "token": text}


@router.get("/enrollmentTokens", summary="List enrolment tokens")
def list_tokens(principal: Caller, iocd: Iocd) -> dict[str, Any]:
    now = iocd.clock.now()
    return {"value": [token_to_wire(t, now) for t in iocd.agents.list_enrollment_tokens(principal)]}


@router.delete("/enrollmentTokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(token_id: str, principal: Caller, iocd: Iocd) -> Response:
    iocd.agents.revoke_enrollment_token(token_id, principal)
    return Response(status_code=204)


@router.get("", summary="Enrolled agents: group, applied policy, last contact, enforcement")
def list_agents(principal: Caller, iocd: Iocd) -> dict[str, Any]:
    agents = iocd.agents.list_agents(principal)
    views = {g: iocd.agent_policy.digest(g) for g in sorted({a.group for a in agents})}
    return {"value": [agent_to_wire(a, *views[a.group]) for a in agents]}


# -- devices ----------------------------------------------------------------------------------


@router.post("/enroll", summary="Enrol a device with an enrolment token (no bearer token)")
def enroll(iocd: Iocd, body: JsonBody) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("enrollToken"), str):
        raise InvalidInput("enrollToken", "is required", "MissingRequiredParameter")
    device, credential = iocd.agents.enroll(body["enrollToken"], parse_device_report(body))
    return {"deviceId": device.device_id, "deviceCredential": credential, "group": device.group}


@router.get("/policy/snapshot", summary="The device group's whole policy (Arrow IPC stream)")
async def snapshot(device: Agent, iocd: Iocd) -> StreamingResponse:
    built = await asyncio.to_thread(iocd.agent_policy.snapshot, device.group)
    payload = built.payload

    def chunks() -> Any:
        view = memoryview(payload)
        for start in range(0, len(view), CHUNK):
            yield bytes(view[start : start + CHUNK])

    return StreamingResponse(
        chunks(),
        media_type=MEDIA_TYPE,
        headers={
            "X-Iocd-Sequence": str(built.sequence),
            "X-Iocd-Digest": built.digest,
            "X-Iocd-Group": device.group,
            "X-Iocd-Rows": str(built.rows),
            "Content-Length": str(len(payload)),
        },
    )


@router.get("/policy", summary="Changes since a sequence value (long-poll with wait)")
async def policy(
    device: Agent,
    iocd: Iocd,
    since: int = Query(..., description="The change-sequence value the agent holds."),
    wait: float = Query(0, ge=0, le=MAX_WAIT_SECONDS, description="Seconds to hold the request"),
) -> dict[str, Any]:
    gateway = iocd.agent_policy
    update = await asyncio.to_thread(gateway.update, device.group, since)
    deadline = time.monotonic() + wait
    while update.kind == UNCHANGED and (remaining := deadline - time.monotonic()) > 0:
        woke = await iocd.bus.wait_beyond(since, remaining)
        update = await asyncio.to_thread(gateway.update, device.group, since)
        if update.kind == UNCHANGED and woke > since:
            await asyncio.sleep(0.05)  # published ahead of our store's view: look again soon
    await asyncio.to_thread(iocd.agents.touch, device)
    return update_to_wire(update)


@router.post("/status", summary="Report the applied policy, facts and enforcement")
def status(device: Agent, iocd: Iocd, body: JsonBody) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be a JSON object", "InvalidRequestBody")
    applied = body.get("appliedSequence")
    if applied is not None and (not isinstance(applied, int) or isinstance(applied, bool)):
        raise InvalidInput("appliedSequence", "must be a whole number")
    digest = body.get("appliedDigest")
    if digest is not None and not isinstance(digest, str):
        raise InvalidInput("appliedDigest", "must be 64 hex digits")
    files, network = parse_enforcement(body.get("enforcement"))
    report = parse_device_report(body, hostname_required=False)
    updated = iocd.agents.report_status(
        device, report, AgentStatus(applied, digest, files, network)
    )
    return {"group": updated.group, "sequence": iocd.agent_policy.last_sequence()}
