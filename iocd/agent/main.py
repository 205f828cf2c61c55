"""`iocd agent`: enrol and run the endpoint agent, and its local commands.

    iocd agent --server URL --enroll-token T [--watch PATH ...] [--state-dir D] [--tag T]
    iocd agent status | scan PATH... | restore QUARANTINE_ID [--force] | quarantine list

Also installed alone as `iocd-agent` (the agent ships without the server).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from iocd.agent.client import AgentApiError, AgentClient, ServerUnreachable
from iocd.agent.enforcement import EXECUTION_BLOCKING, detect
from iocd.agent.netblock import NftablesBlocker, availability
from iocd.agent.policy_cache import PolicyCache
from iocd.agent.protect import FAILED, QUARANTINED, Device, Protector
from iocd.agent.quarantine import Exemptions, QuarantineItemNotFound, Vault
from iocd.agent.reporter import Reporter
from iocd.agent.runner import Agent, enroll
from iocd.agent.state import AgentState

app = typer.Typer(
    help="The endpoint agent: enforces the list on this host and reports to the server.",
    pretty_exceptions_enable=False,
)
quarantine = typer.Typer(help="The quarantine vault.", no_args_is_help=True)
app.add_typer(quarantine, name="quarantine")

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", help="State folder (default /var/lib/iocd-agent as root)."),
]
_META = "iocd_agent_state_dir"


def _state(ctx: typer.Context, state_dir: Path | None) -> AgentState:
    return AgentState(state_dir or ctx.meta.get(_META))


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    server: Annotated[str | None, typer.Option(help="The iocd server's base URL.")] = None,
    enroll_token: Annotated[
        str | None, typer.Option(help="Enrolment token (only needed the first time).")
    ] = None,
    watch: Annotated[
        list[Path] | None, typer.Option(help="A folder to protect (repeatable).")
    ] = None,
    state_dir: StateDir = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag for this device.")] = None,
    heartbeat: Annotated[float, typer.Option(help="Seconds between status reports.")] = 60.0,
    network_block: Annotated[
        bool,
        typer.Option(help="Drop Block addresses through nftables (root and nft needed)."),
    ] = True,
    exec_block: Annotated[
        bool,
        typer.Option(
            help="Stop blocked files in watched folders before they run (root and fanotify)."
        ),
    ] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Enrol (the first time) and run the agent until interrupted."""
    ctx.meta[_META] = state_dir
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    state = _state(ctx, state_dir).ensure()
    credential = state.credential()
    if credential is None or (enroll_token and server and server.rstrip("/") != credential.server):
        if not server or not enroll_token:
            raise _fail("not enrolled yet: give --server URL and --enroll-token TOKEN")
        try:
            credential = enroll(state, server, enroll_token, tag or [])
        except (AgentApiError, ServerUnreachable) as error:
            raise _fail(f"enrolment failed: {error}") from None
        typer.echo(f"enrolled as device {credential.device_id} in group {credential.group!r}")
    blocker = NftablesBlocker() if network_block and availability()[0] else None
    agent = Agent(
        state,
        credential,
        watch=watch or [],
        tags=tag or [],
        heartbeat=heartbeat,
        blocker=blocker,
        exec_block=exec_block,
    )
    for line in agent.enforcement.lines():
        typer.echo(line)
    agent.run_forever()


@app.command()
def status(ctx: typer.Context, state_dir: StateDir = None) -> None:
    """Group, applied sequence, last contact, whether the server answers, and enforcement."""
    state = _state(ctx, state_dir)
    credential = state.credential()
    facts = state.status()
    if credential is None:
        typer.echo(f"not enrolled (state folder {state.folder})")
    else:
        typer.echo(f"server: {credential.server}")
        typer.echo(f"device: {credential.device_id}")
    typer.echo(f"group: {facts.get('group') or (credential.group if credential else '-')}")
    typer.echo(f"applied sequence: {facts.get('appliedSequence', '-')}")
    typer.echo(f"applied digest: {facts.get('appliedDigest', '-')}")
    typer.echo(f"indicators: {facts.get('indicators', '-')}")
    typer.echo(f"last contact: {facts.get('lastContact', 'never')}")
    if credential is not None:
        reachable = "unknown"
        with AgentClient(credential.server, credential.token, timeout=3, retries=0) as client:
            try:
                client.changes(int(facts.get("appliedSequence") or 0), 0)
                reachable = "yes"
            except ServerUnreachable as error:
                reachable = f"no ({error})"
            except AgentApiError as error:
                reachable = f"yes, but it refused: {error}"
        typer.echo(f"server reachable: {reachable}")
    running = _running(facts.get("pid"))
    typer.echo(f"agent process: {'running' if running else 'not running'}")
    watching = facts.get("watching") or []
    typer.echo(f"watching: {', '.join(watching) if watching and running else '-'}")
    typer.echo("enforcement:")
    applied = facts.get("enforcement")
    blocking = not isinstance(applied, dict) or applied.get("network") == "nftables"
    executing = not isinstance(applied, dict) or applied.get("files") == EXECUTION_BLOCKING
    for line in detect(bool(watching) and running, running, blocking, executing).lines():
        typer.echo(f"  {line}")
    if running and blocking and "networkBlocked" in facts:
        typer.echo(f"  network ranges blocked: {facts['networkBlocked']}")
    if running and facts.get("networkError"):
        typer.echo(f"  network blocking failed: {facts['networkError']}")
    pending = len(Reporter(state.spool_dir, None).spooled())
    typer.echo(f"reports waiting in the spool: {pending}")
    typer.echo(f"quarantined files: {len(Vault(state.vault_dir).items())}")


def _running(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@app.command()
def scan(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    state_dir: StateDir = None,
) -> None:
    """Check files now against the last policy the agent received; quarantine what it blocks."""
    state = _state(ctx, state_dir).ensure()
    credential = state.credential()
    policy = PolicyCache(state.policy_dir).load()
    if policy is None:
        raise _fail("no policy on this host yet: run the agent once (iocd agent --server ...)")
    send = None
    client = None
    if credential is not None:
        client = AgentClient(credential.server, credential.token, timeout=5, retries=0)
        send = client.reports
    reporter = Reporter(state.spool_dir, send)
    group = str(state.status().get("group") or (credential.group if credential else ""))
    device = Device(credential.device_id if credential else "", os.uname().nodename, group)
    protector = Protector(
        lambda: policy,
        Vault(state.vault_dir),
        reporter,
        Exemptions(state.exemptions_path),
        lambda: device,
    )
    counts: dict[str, int] = {}
    for outcome in protector.scan(paths, skip=state.folder):
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
        if outcome.decision is not None or outcome.action == FAILED:
            typer.echo(outcome.line())
    reporter.flush()
    delivered = reporter.deliver()
    if client is not None:
        client.close()
    total = sum(counts.values())
    parts = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    typer.echo(
        f"scanned {total} files at policy sequence {policy.sequence}: {parts or 'nothing'}; "
        f"{delivered} report batches sent, {len(reporter.spooled())} waiting"
    )
    if counts.get(QUARANTINED):
        raise typer.Exit(3)


@app.command()
def restore(
    ctx: typer.Context,
    quarantine_id: Annotated[str, typer.Argument(help="The id `quarantine list` shows.")],
    force: Annotated[bool, typer.Option(help="Overwrite a file now at the path.")] = False,
    state_dir: StateDir = None,
) -> None:
    """Put a quarantined file back exactly (bytes, mode, times); the agent then leaves it be."""
    state = _state(ctx, state_dir)
    vault = Vault(state.vault_dir)
    try:
        item = vault.get(quarantine_id)
        Exemptions(state.exemptions_path).add(item)
        vault.restore(quarantine_id, force=force)
    except QuarantineItemNotFound:
        raise _fail(f"no quarantined file {quarantine_id}") from None
    except FileExistsError as error:
        raise _fail(str(error)) from None
    typer.echo(f"restored {item.original_path}")


@quarantine.command("list")
def quarantine_list(ctx: typer.Context, state_dir: StateDir = None) -> None:
    """The quarantined files: id, time, indicator, size and original path."""
    items = Vault(_state(ctx, state_dir).vault_dir).items()
    if not items:
        typer.echo("the quarantine is empty")
    for item in items:
        indicator = item.indicator_id if item.indicator_id is not None else "-"
        typer.echo(
            f"{item.id}  {item.quarantined_at}  indicator {indicator}  "
            f"{item.size} bytes  {item.original_path}"
        )


def main() -> None:
    app(prog_name="iocd-agent")


if __name__ == "__main__":
    main()
