"""MISP events in (MISP JSON, read with the standard library): attributes become indicators.

Accepted documents: one event (`{"Event": {...}}`, or the bare event object), a search result
(`{"response": [{"Event": ...}, ...]}`), or a list of events. Attributes are read from each
event and from each of its MISP objects, in document order; item numbers count them from 1.

    md5 | sha1 | sha256, filename|md5 | filename|sha1 | filename|sha256   -> file hashes
    ip-src | ip-dst, ip-src|port | ip-dst|port                           -> IpAddress
    domain | hostname                                                     -> DomainName
    domain|ip                                                             -> both
    url                                                                   -> Url
    x509-fingerprint-sha1                                                 -> CertificateThumbprint

Skipped, each with its reason: other attribute types; attributes with `to_ids` false (unless
`include_non_ids`); deleted attributes; values a MISP warninglist knows as benign (`known_benign`,
the guardrails' reference, asked by the caller). Title: the event's `info`; description: the
attribute's comment, else the info; externalId: the attribute's uuid. Tags of the event and the
attribute: `misp-galaxy:mitre-attack-pattern="Name - T1234"` gives techniques, and
`iocd:category="X"` (written by the export) the category. Export: codecs.misp_export.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from iocd.codecs.interchange import ImportDefaults, load_document, skipped
from iocd.codecs.json_lazy import LazyArray, Plan
from iocd.codecs.rows import CsvRow, ParsedItem, RowFailure, echo
from iocd.domain.types import IndicatorType
from iocd.errors import InvalidInput

KnownBenign = Callable[[IndicatorType, str], str | None]
"""(type, canonical value) -> why the value is known benign, or None."""

HASH_TYPES = {
    "md5": IndicatorType.FILE_MD5,
    "sha1": IndicatorType.FILE_SHA1,
    "sha256": IndicatorType.FILE_SHA256,
}
SINGLE_TYPES = {
    **HASH_TYPES,
    "ip-src": IndicatorType.IP_ADDRESS,
    "ip-dst": IndicatorType.IP_ADDRESS,
    "domain": IndicatorType.DOMAIN_NAME,
    "hostname": IndicatorType.DOMAIN_NAME,
    "url": IndicatorType.URL,
    "x509-fingerprint-sha1": IndicatorType.CERTIFICATE_THUMBPRINT,
}
_EVENT_MEMBERS = {"Attribute": Plan(lazy=True), "Object": Plan(lazy=True)}
_EVENT = Plan(members={**_EVENT_MEMBERS, "Event": Plan(members=_EVENT_MEMBERS)})
DOCUMENT = Plan(
    members={**_EVENT.members, "response": Plan(lazy=True, element=_EVENT)},
    lazy=True,
    element=_EVENT,
)
"""Events' attributes and objects are decoded one at a time (codecs.json_lazy), whichever of
the accepted shapes holds them."""
_TECHNIQUE_TAG = re.compile(
    r'misp-galaxy:mitre-[a-z-]*attack-pattern="(?:.* - )?(T\d{4}(?:\.\d{3})?)"'
)
_CATEGORY_TAG = re.compile(r'iocd:category="([A-Za-z]+)"')


def read_misp(
    stream: BinaryIO,
    defaults: ImportDefaults,
    *,
    include_non_ids: bool = False,
    known_benign: KnownBenign | None = None,
) -> Iterator[ParsedItem]:
    """Parse the whole document now (InvalidInput if it holds no MISP event), then yield
    attribute by attribute."""
    document = load_document(stream, plan=DOCUMENT)
    events = _events(document)
    return _items(events, defaults, include_non_ids, known_benign)


def _events(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, dict) and "response" in document:
        document = document["response"]
    listed = document if isinstance(document, list | LazyArray) else [document]
    events = []
    for entry in listed:
        event = entry.get("Event", entry) if isinstance(entry, dict) else None
        if not isinstance(event, dict) or not ("Attribute" in event or "Object" in event):
            raise InvalidInput(
                "FILE", 'is not a MISP event ({"Event": {...}} or {"response": [...]})'
            )
        events.append(event)
    return events


def _items(
    events: list[dict[str, Any]],
    defaults: ImportDefaults,
    include_non_ids: bool,
    known_benign: KnownBenign | None,
) -> Iterator[ParsedItem]:
    number = 0
    for event in events:
        info = str(event.get("info") or "").strip() or f"MISP event {event.get('uuid', '')}"
        event_tags = _tag_names(event)
        for attribute in _attributes(event):
            number += 1
            if not isinstance(attribute, dict):
                yield RowFailure(number, "attribute is not a JSON object", echo(repr(attribute)))
                continue
            for item in _attribute(number, attribute, info, event_tags, defaults, include_non_ids):
                if isinstance(item, CsvRow) and known_benign is not None:
                    item = _screen(item, attribute, known_benign)
                yield item


def _attributes(event: dict[str, Any]) -> Iterator[Any]:
    yield from event.get("Attribute") or ()
    for obj in event.get("Object") or ():
        if isinstance(obj, dict):
            yield from obj.get("Attribute") or ()


def _attribute(
    number: int,
    attribute: dict[str, Any],
    info: str,
    event_tags: list[str],
    defaults: ImportDefaults,
    include_non_ids: bool,
) -> Iterator[ParsedItem]:
    kind, raw = str(attribute.get("type", "")), attribute.get("value")
    shown = f"{kind} {raw}"
    if not isinstance(raw, str):
        yield RowFailure(number, f"{kind} attribute has no text value", echo(shown))
        return
    if attribute.get("deleted") is True:
        yield skipped(number, "the attribute is deleted", shown)
        return
    pairs = _values(kind, raw)
    if not pairs:
        yield skipped(number, f"MISP type {kind!r} has no indicator type", shown)
        return
    if attribute.get("to_ids") is False and not include_non_ids:
        yield skipped(number, "to_ids is off (not meant for detection)", shown)
        return
    tags = event_tags + _tag_names(attribute)
    techniques = [m.group(1) for tag in tags if (m := _TECHNIQUE_TAG.fullmatch(tag))]
    categories = [m.group(1) for tag in tags if (m := _CATEGORY_TAG.fullmatch(tag))]
    comment = str(attribute.get("comment") or "").strip()
    for indicator_type, value in pairs:
        try:
            fields = defaults.fields(
                indicator_type,
                value,
                title=info,
                description=comment or info,
                external_id=str(attribute.get("uuid") or "") or None,
                category=categories[0] if categories else None,
                mitre_techniques=techniques,
            )
        except InvalidInput as exc:
            yield RowFailure(number, f"{kind}: {exc.field}: {exc.reason}", echo(shown))
            continue
        yield CsvRow(number, fields)


def _values(kind: str, raw: str) -> list[tuple[IndicatorType, str]]:
    single = SINGLE_TYPES.get(kind)
    if single is not None:
        return [(single, raw)]
    if "|" not in kind or "|" not in raw:
        return []
    left, right = raw.rsplit("|", 1)  # a file name may hold "|"; hashes, ports, IPs never do
    if kind.startswith("filename|") and kind[9:] in HASH_TYPES:
        return [(HASH_TYPES[kind[9:]], right)]
    if kind in ("ip-src|port", "ip-dst|port"):
        return [(IndicatorType.IP_ADDRESS, left)]
    if kind == "domain|ip":
        return [(IndicatorType.DOMAIN_NAME, left), (IndicatorType.IP_ADDRESS, right)]
    return []


def _screen(item: CsvRow, attribute: dict[str, Any], known_benign: KnownBenign) -> ParsedItem:
    reason = known_benign(item.fields.indicator_type, item.fields.value)
    if reason is None:
        return item
    shown = f"{attribute.get('type')} {attribute.get('value')}"
    return skipped(item.line, f"on a MISP warninglist: {reason}", shown)


def _tag_names(holder: dict[str, Any]) -> list[str]:
    return [
        str(tag["name"])
        for tag in holder.get("Tag") or ()
        if isinstance(tag, dict) and isinstance(tag.get("name"), str)
    ]
