"""`iocd connectors push`: copy a selection of the list to another Defender-compatible
Indicators API (another iocd, or the real service), changing only what it created there."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.table import Table

from iocd.cli.common import clear_errors, console, errors, operator, print_json, state
from iocd.cli.filters import build_query
from iocd.connectors.defender import DefenderIndicators
from iocd.errors import InvalidInput
from iocd.services.push import PlannedChange, PushPlan, PushService

app = typer.Typer(help="Talk to other systems' APIs.", no_args_is_help=True)
SHOWN_CHANGES = 200
MDE_BATCH_SIZE = 500


@app.command()
def push(
    ctx: typer.Context,
    base_url: Annotated[
        str, typer.Option(help="The remote API, e.g. https://api.securitycenter.microsoft.com/api")
    ],
    token_url: Annotated[
        str, typer.Option(help="Its OAuth2 token URL (client credentials, v2 form).")
    ],
    client_id: Annotated[str, typer.Option(help="The application's client id there.")],
    client_secret_env: Annotated[
        str, typer.Option(help="Name of the environment variable holding its secret.")
    ],
    scope: Annotated[
        str | None, typer.Option(help="Token scope (default: the base URL's origin/.default).")
    ] = None,
    indicator_type: Annotated[str | None, typer.Option("--type", "-t")] = None,
    action: Annotated[str | None, typer.Option("--action", "-a")] = None,
    severity: Annotated[str | None, typer.Option("--severity", "-s")] = None,
    created_by: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option("--group", "-g")] = None,
    search: Annotated[str | None, typer.Option(help="Text within value or title.")] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Indicators per call (MDE: at most 500).")
    ] = MDE_BATCH_SIZE,
    rate: Annotated[
        float, typer.Option(min=0, help="API calls per minute at most (0: no pacing).")
    ] = 100,
    dry_run: Annotated[bool, typer.Option(help="Print the changes; make none.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Make the remote list hold the selected active indicators: create what is missing there,
    update what differs, delete what this application created there and is no longer selected.
    Indicators anyone else created there are never touched."""
    with clear_errors():
        secret = os.environ.get(client_secret_env, "")
        if not secret:
            raise InvalidInput("--client-secret-env", f"{client_secret_env} is not set or empty")
        query = build_query(
            indicator_type=indicator_type,
            action=action,
            severity=severity,
            created_by=created_by,
            group=group,
            search=search,
        )
        service = PushService(state(ctx).instance().indicators)
        with DefenderIndicators(
            base_url=base_url,
            token_url=token_url,
            client_id=client_id,
            client_secret=secret,
            scope=scope,
            requests_per_minute=rate or None,
        ) as remote:
            plan = service.plan(query, operator("Push"), remote)
            if not dry_run:
                service.apply(plan, remote, batch_size)
        if as_json:
            print_json(_plan_to_wire(plan, dry_run))
        else:
            _print(plan, dry_run)
        if plan.failures:
            raise typer.Exit(1)


def _change_to_wire(change: PlannedChange) -> dict[str, Any]:
    return {
        "change": change.kind,
        "indicatorType": change.indicator_type,
        "indicatorValue": change.value,
        "rbacGroupNames": list(change.groups),
        "localId": str(change.local_id) if change.local_id is not None else None,
        "remoteId": change.remote_id,
        "fields": list(change.fields),
        "note": change.note,
    }


def _plan_to_wire(plan: PushPlan, dry_run: bool) -> dict[str, Any]:
    counts = {k: len(plan.of_kind(k)) for k in ("create", "update", "delete", "held")}
    return {
        "dryRun": dry_run,
        **counts,
        "unchanged": plan.unchanged,
        "changes": [_change_to_wire(c) for c in plan.changes],
        "failures": [
            {**_change_to_wire(change), "reason": reason} for change, reason in plan.failures
        ],
    }


def _print(plan: PushPlan, dry_run: bool) -> None:
    table = Table(title="Push (dry run: nothing changed)" if dry_run else "Push")
    for column in ("change", "type", "value", "groups", "local id", "remote id", "detail"):
        table.add_column(column)
    for change in plan.changes[:SHOWN_CHANGES]:
        detail = ", ".join(change.fields) or change.note or ""
        table.add_row(
            change.kind,
            change.indicator_type,
            change.value,
            ", ".join(change.groups) or "all devices",
            str(change.local_id or ""),
            change.remote_id or "",
            detail,
        )
    if plan.changes:
        console.print(table)
    if len(plan.changes) > SHOWN_CHANGES:
        console.print(f"... and {len(plan.changes) - SHOWN_CHANGES:,} more changes")
    verb = "would " if dry_run else ""
    console.print(
        f"{verb}create {len(plan.of_kind('create')):,}, {verb}update "
        f"{len(plan.of_kind('update')):,}, {verb}delete {len(plan.of_kind('delete')):,}; "
        f"{plan.unchanged:,} unchanged; {len(plan.of_kind('held')):,} held there by others",
        highlight=False,
    )
    for change, reason in plan.failures[:SHOWN_CHANGES]:
        errors.print(
            f"{change.kind} {change.indicator_type} {change.value}: {reason}",
            highlight=False,
            markup=False,
        )
