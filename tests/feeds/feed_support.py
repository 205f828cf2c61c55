"""Helpers of the feed tests: principals, feeds to add, a MISP feed folder, list files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from iocd.compose import Instance
from iocd.domain.feeds import FeedKind, FeedOptions, FeedRun, NewFeed, make_defaults
from iocd.domain.principal import Principal, Role

ADMIN = Principal("root", Role.GLOBAL_ADMINISTRATOR, "Cli")
ANALYST = Principal("ann", Role.ANALYST, "Portal", device_groups=frozenset({"lab"}))


def ips(start: int, count: int) -> list[str]:
    """`count` distinct public-looking IPv4 addresses (TEST-NET free, not on warninglists)."""
    return [
        f"45.{(n // 62500) % 250 + 1}.{(n // 250) % 250}.{n % 250 + 1}"
        for n in range(start, start + count)
    ]


def write_list(path: Path, values: list[str], header: str = "# test feed\n") -> None:
    path.write_text(header + "".join(v + "\n" for v in values))


def add_feed(
    instance: Instance,
    name: str,
    url: str,
    kind: FeedKind = FeedKind.LIST,
    *,
    action: str = "Block",
    expires_days: int | None = 30,
    groups: tuple[str, ...] = (),
    cap: int | None = None,
    **options: Any,
) -> None:
    instance.feeds.add(
        ADMIN,
        NewFeed(
            name,
            kind,
            url,
            FeedOptions(**options),
            make_defaults(action, "High", expires_days, list(groups)),
            cap=cap,
            interval_seconds=300,
        ),
    )


def run(instance: Instance, name: str, *, full: bool = False) -> FeedRun:
    return instance.feeds.run(ADMIN, name, full=full)


def active_values(instance: Instance, owner: str | None = None) -> set[str]:
    from iocd.domain.query import IndicatorQuery

    now = instance.clock.now()
    return {
        i.fields.value
        for i in instance.store.iterate(IndicatorQuery(), now)
        if i.is_active(now) and (owner is None or i.created_by_source == owner)
    }


def misp_folder(folder: Path, sources: Path, names: list[str]) -> dict[str, Any]:
    """A MISP feed folder: the named events of `sources` and a manifest.json of them."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    for name in names:
        document = json.loads((sources / f"{name}.json").read_text())
        event = document.get("Event", document)
        shutil.copyfile(sources / f"{name}.json", folder / f"{event['uuid']}.json")
        manifest[event["uuid"]] = {"info": event.get("info"), "timestamp": event["timestamp"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return manifest
