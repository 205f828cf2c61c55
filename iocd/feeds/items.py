"""Item lines of structured feeds (MISP, TAXII): what the source says of one value, as JSON.

`<group>\\t<json>`: the group is the MISP event uuid or the STIX object id the item came from
(so the items of an unchanged event or object are carried over without fetching it again).
The JSON holds only what the source says (type, value, title, description, its own expiry,
external id, category, techniques), or why the item gives no indicator; the feed's action,
severity, device groups and default expiry are applied when a line is decoded, so a line
stays the same from run to run while the source does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from iocd.codecs.interchange import ImportDefaults
from iocd.codecs.rows import CsvRow, ParsedItem, echo
from iocd.domain.drafts import build_fields
from iocd.domain.feeds import Feed
from iocd.domain.indicator import format_datetime, parse_datetime
from iocd.errors import InvalidInput
from iocd.feeds.snapshot import Decode, Decoded


def source_defaults(feed: Feed) -> ImportDefaults:
    """The codecs' defaults for a feed: no default expiry (that is applied at decode time)."""
    d = feed.defaults
    return ImportDefaults(d.action, d.severity, None, d.device_groups)


def item_lines(group: str, items: Iterable[ParsedItem]) -> Iterator[str]:
    for item in items:
        body: dict[str, Any]
        if isinstance(item, CsvRow):
            f = item.fields
            body = {"t": f.indicator_type.value, "v": f.value, "title": f.title}
            if f.description != f.title:
                body["d"] = f.description
            if f.expiration_time is not None:
                body["x"] = format_datetime(f.expiration_time)
            if f.external_id:
                body["e"] = f.external_id
            if f.category:
                body["c"] = f.category
            if f.mitre_techniques:
                body["m"] = list(f.mitre_techniques)
        else:
            body = {"skip": item.reason, "label": f"{group} item {item.line}: {item.raw}"}
        yield group + "\t" + json.dumps(body, ensure_ascii=False, sort_keys=True)


def group_of(line: str) -> str:
    return line.split("\t", 1)[0]


def item_decoder(feed: Feed, now: datetime) -> Decode:
    defaults = feed.defaults
    expiry = feed.expiry_for(now)

    def decode(line: str) -> Decoded:
        group, _, text = line.partition("\t")
        try:
            body = json.loads(text)
        except ValueError:
            return echo(line), "unreadable item"
        if "skip" in body:
            return echo(str(body.get("label", group))), str(body["skip"])
        label = echo(f"{body.get('t')} {body.get('v')}")
        own = body.get("x")
        try:
            own_expiry = parse_datetime("expirationTime", own) if own else None
            if own_expiry is not None and own_expiry <= now:
                return label, "skipped: expired in the source"
            fields = build_fields(
                indicator_type=str(body.get("t", "")),
                value=str(body.get("v", "")),
                action=defaults.action,
                title=str(body.get("title") or f"Feed {feed.name}"),
                description=str(body.get("d") or body.get("title") or f"Feed {feed.name}"),
                severity=defaults.severity,
                expiration_time=own_expiry or expiry,
                external_id=body.get("e"),
                category=body.get("c"),
                mitre_techniques=body.get("m") or (),
                rbac_group_names=defaults.device_groups,
            )
        except InvalidInput as exc:
            return label, f"{exc.field}: {exc.reason}"
        return label, fields

    return decode
