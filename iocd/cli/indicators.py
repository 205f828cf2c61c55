"""`iocd indicators ...`: add, list, show, history, delete, import, export, sweep."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from iocd.cli.common import clear_errors, console, operator, print_json, state
from iocd.cli.filters import build_query
from iocd.cli.transfer import export_file, import_file
from iocd.codecs.import_formats import parse_expiry as expiry_from
from iocd.domain.drafts import build_fields
from iocd.domain.indicator import IndicatorDraft, format_datetime
from iocd.domain.types import IndicatorType
from iocd.domain.values import detect_type
from iocd.domain.wire import audit_to_wire, indicator_to_wire, sightings_to_wire
from iocd.errors import InvalidInput

app = typer.Typer(help="Manage the indicator list.", no_args_is_help=True)

TypeOption = Annotated[
    str | None, typer.Option("--type", "-t", help="Indicator type (detected when omitted).")
]
GroupOption = Annotated[
    list[str] | None, typer.Option("--group", "-g", help="Device group (repeat); none = all.")
]
ExpiresOption = Annotated[
    str | None, typer.Option("--expires", help="ISO datetime (UTC) or a duration like 30d, 12h.")
]


def parse_expiry(raw: str | None, now: datetime) -> datetime | None:
    """An expiry given as ISO-8601 or as a duration from now (`90m`, `12h`, `30d`, `2w`)."""
    return expiry_from(raw, now, "--expires")


@app.command()
def add(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(help="Hash, IP/CIDR, domain, URL or thumbprint.")] = "",
    action: Annotated[
        str, typer.Option("--action", "-a", help="Allowed, Audit, Warn, Block, BlockAndRemediate.")
    ] = "Audit",
    title: Annotated[str | None, typer.Option(help="Alert title (required by the API).")] = None,
    description: Annotated[str | None, typer.Option(help="Defaults to the title.")] = None,
    indicator_type: TypeOption = None,
    severity: Annotated[str | None, typer.Option("--severity", "-s")] = None,
    expires: ExpiresOption = None,
    group: GroupOption = None,
    generate_alert: Annotated[bool | None, typer.Option("--alert/--no-alert")] = None,
    category: Annotated[str | None, typer.Option(help="Alert category, e.g. Execution.")] = None,
    technique: Annotated[list[str] | None, typer.Option(help="MITRE technique (repeat).")] = None,
    recommended_actions: Annotated[str | None, typer.Option()] = None,
    external_id: Annotated[str | None, typer.Option()] = None,
    certificate: Annotated[
        Path | None, typer.Option(help="A .cer or .pem file: its thumbprint becomes the value.")
    ] = None,
    override: Annotated[
        str | None, typer.Option(help="Justification to override a guardrail.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the stored indicator as JSON.")
    ] = False,
) -> None:
    """Add or update one indicator (the same type, value and groups updates the existing one)."""
    with clear_errors():
        instance = state(ctx).instance()
        if certificate is not None:
            from iocd.domain.certificates import thumbprint_of_certificate  # cryptography: slow

            value = thumbprint_of_certificate(certificate.read_bytes())
            indicator_type = IndicatorType.CERTIFICATE_THUMBPRINT.value
        if not value:
            raise InvalidInput("VALUE", "give a value, or --certificate FILE")
        kind = indicator_type or detect_type(value).value
        fields = build_fields(
            indicator_type=kind,
            value=value,
            action=action,
            title=title,
            description=description or title,
            severity=severity,
            generate_alert=generate_alert,
            expiration_time=parse_expiry(expires, instance.clock.now()),
            category=category,
            mitre_techniques=technique or (),
            recommended_actions=recommended_actions,
            external_id=external_id,
            rbac_group_names=group or (),
        )
        result = instance.indicators.submit(IndicatorDraft(fields, None, override), operator())
        assert result.indicator is not None
        if as_json:
            print_json(indicator_to_wire(result.indicator))
        else:
            i = result.indicator
            console.print(
                f"{result.outcome.value} indicator {i.id}: {i.fields.indicator_type.value} "
                f"{i.fields.value} -> {i.fields.action.value}",
                highlight=False,
            )


@app.command("list")
def list_(
    ctx: typer.Context,
    indicator_type: TypeOption = None,
    action: Annotated[str | None, typer.Option("--action", "-a")] = None,
    severity: Annotated[str | None, typer.Option("--severity", "-s")] = None,
    created_by: Annotated[str | None, typer.Option()] = None,
    group: Annotated[str | None, typer.Option("--group", "-g")] = None,
    value: Annotated[str | None, typer.Option(help="Exact value (normalised first).")] = None,
    search: Annotated[str | None, typer.Option(help="Text within value or title.")] = None,
    all_states: Annotated[bool, typer.Option("--all", help="Include expired and deleted.")] = False,
    top: Annotated[int, typer.Option(min=0, max=10_000)] = 50,
    skip: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List indicators (active ones unless --all), in id order."""
    with clear_errors():
        query = build_query(
            indicator_type=indicator_type,
            action=action,
            severity=severity,
            created_by=created_by,
            group=group,
            value=value,
            search=search,
            include_inactive=all_states,
            top=top,
            skip=skip,
        )
        page = state(ctx).instance().indicators.list(query, operator())
        if as_json:
            print_json([indicator_to_wire(i) for i in page.items])
            return
        table = Table(
            "id",
            "type",
            "value",
            "action",
            "severity",
            "expires",
            "groups",
            "title",
            "state",
            show_lines=False,
        )
        for i in page.items:
            f = i.fields
            table.add_row(
                str(i.id),
                f.indicator_type.value,
                f.value,
                f.action.value,
                f.severity.value,
                format_datetime(f.expiration_time)[:19] if f.expiration_time else "never",
                ", ".join(f.rbac_group_names) or "all",
                f.title,
                i.state.value,
            )
        console.print(table)
        more = " (more: use --skip)" if page.has_more else ""
        console.print(f"{len(page.items)} shown{more}", highlight=False)


@app.command()
def show(
    ctx: typer.Context,
    indicator_id: Annotated[int, typer.Argument(help="Indicator id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one indicator with every field, and its sightings (how often, on how many devices
    and when it matched)."""
    with clear_errors():
        instance = state(ctx).instance()
        indicator = instance.indicators.get(indicator_id, operator())
        sightings = instance.alerts.sightings_for([indicator.id]).get(indicator.id)
        wire = {**indicator_to_wire(indicator), **sightings_to_wire(sightings)}
        if as_json:
            print_json(wire)
            return
        for name, item in wire.items():
            console.print(f"[bold]{name}[/]: {item}", highlight=False)


@app.command()
def history(
    ctx: typer.Context,
    indicator_id: Annotated[int, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The audit trail of one indicator: who changed what, when, through which door."""
    with clear_errors():
        entries = state(ctx).instance().indicators.history(indicator_id, operator())
        if as_json:
            print_json([audit_to_wire(e) for e in entries])
            return
        table = Table("seq", "when (UTC)", "who", "door", "what", "changes")
        for e in entries:
            changes = "; ".join(
                f"{k}: {v[0]!r} -> {v[1]!r}" if isinstance(v, list) else f"{k}: {v}"
                for k, v in e.changes.items()
            )
            if e.justification:
                changes += f" (override: {e.justification})"
            table.add_row(
                str(e.sequence or ""),
                format_datetime(e.at)[:19],
                e.actor,
                e.door,
                e.action,
                changes,
            )
        console.print(table)


@app.command()
def delete(
    ctx: typer.Context,
    indicator_ids: Annotated[list[int], typer.Argument(help="One or more ids; all or nothing.")],
) -> None:
    """Delete indicators (kept in history; never matched again)."""
    with clear_errors():
        state(ctx).instance().indicators.delete_many(indicator_ids, operator())
        console.print(f"deleted {len(indicator_ids)} indicator(s)")


@app.command()
def sweep(ctx: typer.Context) -> None:
    """Record the expiry of every indicator past its expiration time (the server does this too)."""
    with clear_errors():
        count = state(ctx).instance().indicators.sweep_expired()
        console.print(f"expired {count} indicator(s)")


app.command("import")(import_file)
app.command("export")(export_file)
