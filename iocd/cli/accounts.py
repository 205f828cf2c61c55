"""`iocd apps ...`, `iocd users ...` and `iocd groups ...`: accounts and device groups."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from iocd.cli.common import clear_errors, console, operator, print_json, state
from iocd.domain.accounts import GroupRules, parse_app_role, parse_role
from iocd.domain.indicator import format_datetime

apps = typer.Typer(
    help="Applications (OAuth2 clients) of the Indicators API.", no_args_is_help=True
)
users = typer.Typer(
    help="Users, their roles, device groups and personal API tokens.", no_args_is_help=True
)
groups = typer.Typer(help="Device groups: names, ranks and matching rules.", no_args_is_help=True)


def token_url(ctx: typer.Context, tenant: str) -> str:
    settings = state(ctx).settings
    return f"http://{settings.host}:{settings.port}/{tenant}/oauth2/v2.0/token"


@apps.command("create")
def apps_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="A name people recognise.")],
    role: Annotated[
        str, typer.Option("--role", help="Ti.ReadWrite (own indicators) or Ti.ReadWrite.All (all).")
    ] = "Ti.ReadWrite",
    rate_limit: Annotated[
        int | None, typer.Option(help="Requests per minute (default: none).")
    ] = None,
) -> None:
    """Register an application; prints its client id and secret ONCE."""
    with clear_errors():
        service = state(ctx).instance().accounts
        app, secret = service.register_application(
            name, parse_app_role(role), operator(), rate_limit
        )
        tenant = service.tenant_id()
        console.print(f"application   {app.name} ({app.role.value})", highlight=False)
        console.print(f"tenant id     {tenant}", highlight=False)
        console.print(f"client id     {app.client_id}", highlight=False)
        console.print(f"client secret {secret}", highlight=False)
        console.print(f"token URL     {token_url(ctx, tenant)}", highlight=False)
        console.print("The secret is shown only now; store it safely.", style="yellow")


@apps.command("list")
def apps_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered applications."""
    with clear_errors():
        rows = state(ctx).instance().accounts.list_applications(operator())
        if as_json:
            print_json(
                [
                    {
                        "clientId": a.client_id,
                        "name": a.name,
                        "role": a.role.value,
                        "createdAt": format_datetime(a.created_at),
                        "createdBy": a.created_by,
                        "revoked": a.revoked_at is not None,
                        "rateLimitPerMinute": a.rate_limit_per_minute,
                    }
                    for a in rows
                ]
            )
            return
        table = Table("client id", "name", "role", "created", "rate limit", "state")
        for a in rows:
            table.add_row(
                a.client_id,
                a.name,
                a.role.value,
                format_datetime(a.created_at)[:19],
                str(a.rate_limit_per_minute or "none"),
                "revoked" if a.revoked_at else "active",
            )
        console.print(table)


@apps.command("revoke")
def apps_revoke(ctx: typer.Context, client_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke an application: its tokens stop working at once."""
    with clear_errors():
        app = state(ctx).instance().accounts.revoke_application(client_id, operator())
        console.print(f"revoked {app.name} ({app.client_id})", highlight=False)


@users.command("create")
def users_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    role: Annotated[
        str, typer.Option(help="GlobalAdministrator, SecurityAdministrator, Analyst or ReadOnly.")
    ] = "Analyst",
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="Device group (repeat)")
    ] = None,
    display_name: Annotated[str, typer.Option()] = "",
    password: Annotated[
        bool, typer.Option("--password", help="Prompt for a portal password.")
    ] = False,
) -> None:
    """Create a user."""
    with clear_errors():
        secret = None
        if password:
            secret = typer.prompt(
                "password (12+ characters)", hide_input=True, confirmation_prompt=True
            )
        user = (
            state(ctx)
            .instance()
            .accounts.create_user(
                name,
                parse_role(role),
                operator(),
                device_groups=group or (),
                password=secret,
                display_name=display_name,
            )
        )
        console.print(f"created user {user.name} ({user.role.value})", highlight=False)


@users.command("list")
def users_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List users."""
    with clear_errors():
        rows = state(ctx).instance().accounts.list_users(operator())
        if as_json:
            print_json(
                [
                    {
                        "name": u.name,
                        "role": u.role.value,
                        "displayName": u.display_name,
                        "deviceGroups": list(u.device_groups),
                        "disabled": u.disabled,
                    }
                    for u in rows
                ]
            )
            return
        table = Table("name", "role", "device groups", "state")
        for u in rows:
            table.add_row(
                u.name,
                u.role.value,
                ", ".join(u.device_groups) or "-",
                "disabled" if u.disabled else "active",
            )
        console.print(table)


@users.command("set-role")
def users_set_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Argument()],
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="Replace device groups.")
    ] = None,
) -> None:
    """Change a user's role (and, with --group, device groups)."""
    with clear_errors():
        user = state(ctx).instance().accounts.set_role(name, parse_role(role), operator(), group)
        console.print(f"{user.name} is now {user.role.value}", highlight=False)


@users.command("disable")
def users_disable(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Disable a user: sign-in and personal tokens stop working."""
    with clear_errors():
        state(ctx).instance().accounts.disable_user(name, operator())
        console.print(f"disabled {name}", highlight=False)


@users.command("token")
def users_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    label: Annotated[str, typer.Option("--name", help="What the token is for.")] = "script",
    expires: Annotated[
        str | None, typer.Option(help="ISO datetime or 90d (default: never).")
    ] = None,
) -> None:
    """Create a personal API token (same scope as the user); printed ONCE."""
    from iocd.cli.indicators import parse_expiry

    with clear_errors():
        instance = state(ctx).instance()
        token, text = instance.accounts.create_personal_token(
            name, label, operator(), parse_expiry(expires, instance.clock.now())
        )
        console.print(f"token id {token.token_id} for {name}", highlight=False)
        console.print(text, highlight=False, soft_wrap=True)
        console.print("Use it as: Authorization: Bearer <token>. Shown only now.", style="yellow")


@groups.command("create")
def groups_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    rank: Annotated[int | None, typer.Option(help="1 is the highest (default: last).")] = None,
    device_name: Annotated[
        list[str] | None, typer.Option("--device-name", help="Pattern, e.g. 'srv-*'.")
    ] = None,
    domain: Annotated[list[str] | None, typer.Option(help="Device domain pattern.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Device tag pattern.")] = None,
    os: Annotated[
        list[str] | None, typer.Option("--os", help="OS pattern, e.g. 'Windows*'.")
    ] = None,
    description: Annotated[str, typer.Option()] = "",
) -> None:
    """Create a device group with matching rules (a device joins the best-ranked match)."""
    with clear_errors():
        rules = GroupRules(
            tuple(device_name or ()), tuple(domain or ()), tuple(tag or ()), tuple(os or ())
        )
        group = (
            state(ctx).instance().accounts.create_group(name, rank, rules, operator(), description)
        )
        console.print(f"created device group {group.name} at rank {group.rank}", highlight=False)


@groups.command("list")
def groups_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List device groups by rank."""
    with clear_errors():
        rows = state(ctx).instance().accounts.list_groups(operator())
        if as_json:
            print_json(
                [
                    {
                        "name": g.name,
                        "rank": g.rank,
                        "description": g.description,
                        "rules": {
                            "deviceNames": list(g.rules.names),
                            "domains": list(g.rules.domains),
                            "tags": list(g.rules.tags),
                            "os": list(g.rules.os),
                        },
                    }
                    for g in rows
                ]
            )
            return
        table = Table("rank", "name", "device names", "domains", "tags", "os")
        for g in rows:
            r = g.rules
            table.add_row(
                str(g.rank),
                g.name,
                ", ".join(r.names),
                ", ".join(r.domains),
                ", ".join(r.tags),
                ", ".join(r.os),
            )
        console.print(table)


@groups.command("rank")
def groups_rank(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    rank: Annotated[int, typer.Argument(help="New rank; 1 is the highest.")],
) -> None:
    """Move a group to another rank; the others shift."""
    with clear_errors():
        rows = state(ctx).instance().accounts.rank_group(name, rank, operator())
        console.print(", ".join(f"{g.rank}. {g.name}" for g in rows), highlight=False)


@groups.command("delete")
def groups_delete(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Delete a device group."""
    with clear_errors():
        state(ctx).instance().accounts.delete_group(name, operator())
        console.print(f"deleted device group {name}", highlight=False)
