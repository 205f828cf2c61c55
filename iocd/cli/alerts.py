"""`iocd alerts ...`: list, show, resolve."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from iocd.cli.common import clear_errors, console, operator, print_json, state
from iocd.domain.alert_patch import AlertPatch, parse_alert_patch
from iocd.domain.alerts import (
    Alert,
    AlertQuery,
    AlertStatus,
    Evidence,
    alert_to_wire,
    evidence_to_wire,
)
from iocd.domain.indicator import format_datetime
from iocd.domain.query import And, Compare, Expr, Op
from iocd.domain.types import parse_member, parse_severity
from iocd.policy.explain import decision_to_wire, explain_lines

app = typer.Typer(help="Alerts raised by indicators: list, show, resolve.", no_args_is_help=True)


def wire(alert: Alert) -> dict[str, Any]:
    return alert_to_wire(alert, decision_to_wire(alert.decision))


def build_alert_query(
    *,
    status: str | None = None,
    severity: str | None = None,
    device: str | None = None,
    indicator: int | None = None,
    top: int = 50,
    skip: int = 0,
) -> AlertQuery:
    """CLI filter options -> an alert query (newest first)."""
    terms: list[Expr] = []
    if status:
        terms.append(Compare("status", Op.EQ, parse_member(AlertStatus, status, "--status").value))
    if severity:
        terms.append(Compare("severity", Op.EQ, parse_severity(severity).value))
    if device:
        terms.append(Compare("machineId", Op.EQ, device))
    if indicator is not None:
        terms.append(Compare("indicatorId", Op.EQ, indicator))
    where: Expr | None = terms[0] if len(terms) == 1 else And(tuple(terms)) if terms else None
    return AlertQuery(where=where, order_by=(("id", True),), top=top, skip=skip)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="New, InProgress or Resolved (all when omitted).")
    ] = None,
    severity: Annotated[str | None, typer.Option("--severity", "-s")] = None,
    device: Annotated[str | None, typer.Option(help="Device id (machineId).")] = None,
    indicator: Annotated[int | None, typer.Option(help="Indicator id.")] = None,
    top: Annotated[int, typer.Option(min=0, max=10_000)] = 50,
    skip: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List alerts, newest first."""
    with clear_errors():
        query = build_alert_query(
            status=status, severity=severity, device=device, indicator=indicator, top=top, skip=skip
        )
        page = state(ctx).instance().alerts.list(operator(), query)
        if as_json:
            print_json([wire(a) for a in page.items])
            return
        table = Table(
            "id", "status", "severity", "device", "indicator", "entity", "last event", "count"
        )
        table.add_column("title")
        for a in page.items:
            table.add_row(
                str(a.id),
                a.status.value + (" (historical)" if a.historical else ""),
                a.severity.value,
                a.computer_dns_name,
                str(a.indicator_id),
                f"{a.entity_type} {a.entity}",
                format_datetime(a.last_event_time)[:19],
                str(a.occurrences),
                a.title,
            )
        console.print(table)
        more = " (more: use --skip)" if page.has_more else ""
        console.print(f"{len(page.items)} shown{more}", highlight=False)


@app.command()
def show(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one alert: its fields, evidence, comments and the decision behind it."""
    with clear_errors():
        alert = state(ctx).instance().alerts.get(operator(), alert_id)
        if as_json:
            print_json(wire(alert))
            return
        data = wire(alert)
        for name in ("evidence", "comments", "decision"):
            data.pop(name)
        for name, item in data.items():
            console.print(f"[bold]{name}[/]: {item}", highlight=False)
        for evidence in alert.evidence:
            console.print(f"[bold]evidence[/]: {_evidence_line(evidence)}", highlight=False)
        for comment in alert.comments:
            console.print(
                f"[bold]comment[/] ({comment.created_by}, "
                f"{format_datetime(comment.created_time)[:19]}): {comment.comment}",
                highlight=False,
            )
        for line in explain_lines(alert.decision):
            console.print(f"[bold]decision[/]: {line}", highlight=False)


def _evidence_line(evidence: Evidence) -> str:
    skipped = ("evidenceCreationTime", "lastSeenTime")
    items = evidence_to_wire(evidence).items()
    return ", ".join(f"{k}={v}" for k, v in items if k not in skipped)


@app.command()
def resolve(
    ctx: typer.Context,
    alert_id: Annotated[int, typer.Argument(help="Alert id.")],
    classification: Annotated[
        str | None,
        typer.Option(help="TruePositive, InformationalExpectedActivity, FalsePositive, Unknown."),
    ] = None,
    determination: Annotated[
        str | None,
        typer.Option(help="Malware, SecurityTesting, UnwantedSoftware, NotMalicious, Other..."),
    ] = None,
    comment: Annotated[str | None, typer.Option(help="A comment to add.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Resolve an alert, optionally classifying it and adding a comment."""
    with clear_errors():
        body: dict[str, Any] = {"status": AlertStatus.RESOLVED.value}
        for name, value in (
            ("classification", classification),
            ("determination", determination),
            ("comment", comment),
        ):
            if value is not None:
                body[name] = value
        patch: AlertPatch = parse_alert_patch(body)
        alert = state(ctx).instance().alerts.update(operator(), alert_id, patch)
        if as_json:
            print_json(wire(alert))
            return
        extra = ", ".join(
            v.value for v in (alert.classification, alert.determination) if v is not None
        )
        console.print(
            f"resolved alert {alert.id}" + (f" ({extra})" if extra else ""), highlight=False
        )
