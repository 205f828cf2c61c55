"""`iocd agents ...`: enrolment tokens and the enrolled endpoint agents."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from iocd.cli.common import clear_errors, console, operator, print_json, state
from iocd.domain.agents import AgentDevice, EnrollmentToken, parse_duration
from iocd.domain.indicator import format_datetime

app = typer.Typer(
    help="Endpoint agents: enrolment tokens and enrolled devices.", no_args_is_help=True
)


def _token_json(token: EnrollmentToken, state_text: str) -> dict[str, object]:
    return {
        "id": token.token_id,
        "group": token.group,
        "createdAt": format_datetime(token.created_at),
        "createdBy": token.created_by,
        "expiresAt": format_datetime(token.expires_at),
        "maxUses": token.max_uses,
        "uses": token.uses,
        "state": state_text,
    }


@app.command("enroll-token")
def enroll_token(
    ctx: typer.Context,
    group: Annotated[
        str | None, typer.Option(help="Put every device it enrols in this device group.")
    ] = None,
    expires: Annotated[str, typer.Option(help="Lifetime: 30m, 24h, 7d...")] = "24h",
    uses: Annotated[int | None, typer.Option(help="How many devices it may enrol.")] = None,
) -> None:
    """Make an enrolment token; prints it ONCE (only a hash is kept)."""
    with clear_errors():
        service = state(ctx).instance().agents
        token, text = service.create_enrollment_token(
            operator(), group=group, expires_in=parse_duration(expires), uses=uses
        )
        console.print(f"enrollment token {text}", highlight=False, soft_wrap=True)
        console.print(
            f"id {token.token_id}; expires {format_datetime(token.expires_at)}; "
            f"uses {token.max_uses or 'unlimited'}; group {token.group or '(by rules)'}",
            highlight=False,
        )
        console.print("The token is shown only now; hand it to the agent.", style="yellow")


@app.command("tokens")
def tokens(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List enrolment tokens."""
    with clear_errors():
        instance = state(ctx).instance()
        now = instance.clock.now()
        rows = instance.agents.list_enrollment_tokens(operator())
        if as_json:
            print_json([_token_json(t, t.state(now)) for t in rows])
            return
        table = Table("id", "group", "expires", "uses", "state", "created by")
        for t in rows:
            table.add_row(
                t.token_id,
                t.group or "(by rules)",
                format_datetime(t.expires_at),
                f"{t.uses}/{t.max_uses}" if t.max_uses else str(t.uses),
                t.state(now),
                t.created_by,
            )
        console.print(table)


@app.command("revoke-token")
def revoke_token(
    ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="The token's id.")]
) -> None:
    """Revoke an enrolment token (devices it enrolled keep their credentials)."""
    with clear_errors():
        state(ctx).instance().agents.revoke_enrollment_token(token_id, operator())
        console.print(f"revoked enrollment token {token_id}", highlight=False)


def _agent_json(agent: AgentDevice, sequence: int, digest: str) -> dict[str, object]:
    return {
        "deviceId": agent.device_id,
        "hostname": agent.hostname,
        "group": agent.group,
        "appliedSequence": agent.applied_sequence,
        "currentSequence": sequence,
        "digestMatches": agent.applied_digest == digest if agent.applied_digest else None,
        "lastContact": format_datetime(agent.last_contact),
        "enforcement": {"files": agent.file_enforcement, "network": agent.network_enforcement},
        "agentVersion": agent.agent_version,
    }


@app.command("list")
def list_agents(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Enrolled agents: group, applied vs current sequence, digest match, last contact,
    enforcement."""
    with clear_errors():
        instance = state(ctx).instance()
        agents = instance.agents.list_agents(operator())
        views = {g: instance.agent_policy.digest(g) for g in {a.group for a in agents}}
        if as_json:
            print_json([_agent_json(a, *views[a.group]) for a in agents])
            return
        table = Table("device", "host", "group", "applied/current", "digest", "last contact")
        table.add_column("enforcement (files, network)")
        for a in agents:
            sequence, digest = views[a.group]
            match = (
                "-"
                if not a.applied_digest
                else "match"
                if a.applied_digest == digest
                else "DIFFERS"
            )
            applied = "-" if a.applied_sequence is None else str(a.applied_sequence)
            table.add_row(
                a.device_id,
                a.hostname,
                a.group,
                f"{applied}/{sequence}",
                match,
                format_datetime(a.last_contact),
                f"{a.file_enforcement or '-'}, {a.network_enforcement or '-'}",
            )
        console.print(table)
