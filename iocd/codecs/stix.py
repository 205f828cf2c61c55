"""STIX 2.1 bundles in: each `indicator` whose pattern names single values becomes indicators.

A pattern is parsed with the stix2 library's pattern parser (never with regular expressions).
Accepted: comparisons `object:path = 'value'` (and `IN (...)`, one indicator per listed value) on

    file:hashes.'SHA-256' | 'SHA-1' | MD5      -> FileSha256 | FileSha1 | FileMd5
    ipv4-addr:value, ipv6-addr:value (CIDR ok) -> IpAddress
    domain-name:value                          -> DomainName
    url:value                                  -> Url
    x509-certificate:hashes.'SHA-1'            -> CertificateThumbprint

joined by `OR`, inside one observation or across observations: one indicator per comparison.
Anything else (AND, MATCHES, LIKE, !=, NOT, FOLLOWEDBY, WITHIN/REPEATS/START qualifiers, other
objects or properties, non-STIX pattern types, revoked indicators) skips the whole STIX
indicator with the reason. Other objects of the bundle (identities, relationships...) are
ignored silently. Fields: `name` -> title, `description`, `valid_until` -> expiry, `id` ->
externalId, MITRE ATT&CK kill-chain phase -> category, ATT&CK external ids -> techniques.
Item numbers are 1-based positions in the bundle's `objects`. Export: codecs.stix_export.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, BinaryIO

from iocd.codecs.interchange import ImportDefaults, load_document, skipped
from iocd.codecs.json_lazy import LazyArray, Plan
from iocd.codecs.rows import CsvRow, ParsedItem, RowFailure, echo
from iocd.codecs.stix_export import ACTION_LABEL, GROUP_LABEL, SEVERITY_LABEL
from iocd.domain.indicator import parse_datetime
from iocd.domain.types import IndicatorType, parse_action, parse_severity
from iocd.errors import InvalidInput

if TYPE_CHECKING:
    from stix2 import patterns as ast

HASHES = {
    "SHA-256": IndicatorType.FILE_SHA256,
    "SHA256": IndicatorType.FILE_SHA256,
    "SHA-1": IndicatorType.FILE_SHA1,
    "SHA1": IndicatorType.FILE_SHA1,
    "MD5": IndicatorType.FILE_MD5,
}
VALUE_OBJECTS = {
    "ipv4-addr": IndicatorType.IP_ADDRESS,
    "ipv6-addr": IndicatorType.IP_ADDRESS,
    "domain-name": IndicatorType.DOMAIN_NAME,
    "url": IndicatorType.URL,
}
ATTACK_KILL_CHAINS = frozenset({"mitre-attack", "mitre-ics-attack", "mitre-mobile-attack"})
INDICATOR_TYPE_CATEGORIES = {"anomalous-activity": "SuspiciousActivity"}
MAX_VALUES_PER_PATTERN = 10_000
BUNDLE = Plan(members={"objects": Plan(lazy=True)})
"""A bundle's objects are decoded one at a time (codecs.json_lazy)."""
_ESCAPE = re.compile(r"\\(['\\])")
"""Escapes the pattern parser leaves in string constants: \\' and \\\\."""


_SIMPLE_PATHS = {
    "file:hashes.'SHA-256'": IndicatorType.FILE_SHA256,
    "file:hashes.'SHA-1'": IndicatorType.FILE_SHA1,
    "file:hashes.MD5": IndicatorType.FILE_MD5,
    "file:hashes.'MD5'": IndicatorType.FILE_MD5,
    "x509-certificate:hashes.'SHA-1'": IndicatorType.CERTIFICATE_THUMBPRINT,
    **{f"{name}:value": kind for name, kind in VALUE_OBJECTS.items()},
}
_SIMPLE = re.compile(r"\[ ?([a-z0-9-]+:[A-Za-z0-9.'-]+) = '([^'\\]*)' ?\]")
"""One comparison of a listed path with a string free of quotes and backslashes: what nearly
every bundle holds, and what the export writes. The stix2 pattern parser (ANTLR) reads about
4,000 patterns a second; this shape needs no parser. Anything else goes to the parser, imported
only then (stix2 takes a few tenths of a second to import)."""


class Unsupported(Exception):
    """A pattern (or part of one) that does not name single values; the message says why."""


def read_stix(
    stream: BinaryIO, defaults: ImportDefaults, *, now: datetime | None = None
) -> Iterator[ParsedItem]:
    """Parse the whole bundle now (InvalidInput if it is not one), then yield item by item.

    With `now`, an indicator whose `valid_until` has passed is skipped.
    """
    document = load_document(stream, plan=BUNDLE)
    if not isinstance(document, dict) or document.get("type") != "bundle":
        raise InvalidInput("FILE", 'is not a STIX bundle (no "type": "bundle" at the top)')
    objects = document.get("objects", [])
    if not isinstance(objects, list | LazyArray):
        raise InvalidInput("FILE", 'is not a STIX bundle ("objects" is not a list)')
    return _items(objects, defaults, now)


def _items(
    objects: Iterable[Any], defaults: ImportDefaults, now: datetime | None
) -> Iterator[ParsedItem]:
    for number, obj in enumerate(objects, start=1):
        if not isinstance(obj, dict):
            yield RowFailure(number, "object is not a JSON object", echo(repr(obj)))
        elif obj.get("type") == "indicator":
            yield from read_indicator(number, obj, defaults, now)


def read_indicator(
    number: int, obj: dict[str, Any], defaults: ImportDefaults, now: datetime | None = None
) -> Iterator[ParsedItem]:
    """The items of one STIX `indicator` object (numbered `number`): one row per value its
    pattern names, or one failure or skip saying why none."""
    stix_id = str(obj.get("id", ""))
    pattern = obj.get("pattern")
    if obj.get("revoked") is True:
        yield skipped(number, f"{stix_id} is revoked", stix_id)
        return
    if obj.get("pattern_type", "stix") != "stix":
        kind = obj.get("pattern_type")
        yield skipped(number, f"{stix_id} has a {kind!r} pattern, not a STIX one", stix_id)
        return
    if not isinstance(pattern, str):
        yield RowFailure(number, f"{stix_id} has no pattern", echo(stix_id))
        return
    try:
        pairs = values_of(pattern)
        expiry = _datetime(obj, "valid_until")
    except Unsupported as exc:
        yield skipped(number, f"{stix_id}: {exc}", pattern)
        return
    except InvalidInput as exc:
        yield RowFailure(number, f"{stix_id}: {exc.field}: {exc.reason}", echo(pattern))
        return
    if now is not None and expiry is not None and expiry <= now:
        yield skipped(number, f"{stix_id} expired at {obj['valid_until']}", pattern)
        return
    title = _text(obj.get("name")) or f"STIX indicator {stix_id}"
    category, techniques = _attack(obj)
    for kind, value in pairs:
        try:
            fields = defaults.fields(
                kind,
                value,
                title=title,
                description=_text(obj.get("description")),
                expiration_time=expiry,
                external_id=stix_id or None,
                category=category,
                mitre_techniques=techniques,
            )
        except InvalidInput as exc:
            yield RowFailure(number, f"{stix_id}: {exc.field}: {exc.reason}", echo(value))
            continue
        yield CsvRow(number, fields)


def label_defaults(
    obj: dict[str, Any], base: ImportDefaults, *, take_action: bool
) -> ImportDefaults:
    """`base`, with what the object's iocd labels (as stix_export writes them) say: severity
    and device groups, and the action too when `take_action`. InvalidInput for a label
    naming no such action or severity."""
    labels = [label for label in obj.get("labels") or () if isinstance(label, str)]
    action, severity, groups = base.action, base.severity, list(base.rbac_group_names)
    named_groups = [g.removeprefix(GROUP_LABEL) for g in labels if g.startswith(GROUP_LABEL)]
    for label in labels:
        if take_action and label.startswith(ACTION_LABEL):
            action = parse_action(label.removeprefix(ACTION_LABEL))
        elif label.startswith(SEVERITY_LABEL):
            severity = parse_severity(label.removeprefix(SEVERITY_LABEL))
    if named_groups:
        groups = named_groups
    return ImportDefaults.of(action, severity, base.expiration_time, groups)


def values_of(pattern: str) -> list[tuple[IndicatorType, str]]:
    """(type, value) for each comparison of a pattern made only of single-value comparisons
    joined by OR; Unsupported (with the reason) for any other pattern, InvalidInput for text
    that is no STIX pattern at all."""
    simple = _SIMPLE.fullmatch(pattern)
    if simple is not None:  # the common shape, without the (slow) general parser
        path, value = simple.groups()
        kind = _SIMPLE_PATHS.get(path)
        if kind is not None:
            return [(kind, value)]
    from stix2.pattern_visitor import create_pattern_object

    try:
        tree = create_pattern_object(pattern, version="2.1")
    except Exception as exc:  # the parser raises its own ParseException and others
        raise InvalidInput("pattern", f"does not parse ({exc})") from None
    found: list[tuple[IndicatorType, str]] = []
    _walk(tree, found)
    return found


def _walk(node: object, found: list[tuple[IndicatorType, str]]) -> None:
    from stix2 import patterns as ast

    if isinstance(node, ast.OrObservationExpression | ast.OrBooleanExpression):
        for operand in node.operands:
            _walk(operand, found)
    elif isinstance(node, ast.ObservationExpression):
        _walk(node.operand, found)
    elif isinstance(node, ast.QualifiedObservationExpression):
        raise Unsupported(f"the pattern has a qualifier ({node.qualifier}): not a plain value")
    elif isinstance(node, ast.AndObservationExpression | ast.AndBooleanExpression):
        raise Unsupported("the pattern joins comparisons with AND: no single value matches it")
    elif isinstance(node, ast.FollowedByObservationExpression):
        raise Unsupported("the pattern uses FOLLOWEDBY: a sequence, not a value")
    elif isinstance(node, ast.EqualityComparisonExpression | ast.InComparisonExpression):
        if node.negated:
            raise Unsupported("the pattern negates a comparison (NOT / !=)")
        kind = _type_of(node.lhs)
        constants = node.rhs.value if isinstance(node.rhs, ast.ListConstant) else [node.rhs]
        for constant in constants:
            if not isinstance(constant.value, str):
                raise Unsupported(f"{node.lhs} is compared with a non-string {constant.value!r}")
            found.append((kind, _ESCAPE.sub(r"\1", constant.value)))
        if len(found) > MAX_VALUES_PER_PATTERN:
            raise Unsupported(f"the pattern names more than {MAX_VALUES_PER_PATTERN} values")
    elif isinstance(node, ast._ComparisonExpression):
        raise Unsupported(f"the pattern uses {node.operator}: it names no single value")
    else:
        raise Unsupported(f"the pattern has a {type(node).__name__}: not a plain value")


def _type_of(path: ast.ObjectPath) -> IndicatorType:
    names = [getattr(part, "property_name", None) for part in path.property_path]
    object_type = path.object_type_name
    if object_type in VALUE_OBJECTS and names == ["value"]:
        return VALUE_OBJECTS[object_type]
    if object_type in ("file", "x509-certificate") and len(names) == 2 and names[0] == "hashes":
        kind = HASHES.get(str(names[1]).upper())
        if object_type == "x509-certificate" and kind is IndicatorType.FILE_SHA1:
            return IndicatorType.CERTIFICATE_THUMBPRINT
        if object_type == "file" and kind is not None:
            return kind
    raise Unsupported(f"{path} is not a property iocd keeps indicators for")


def _datetime(obj: dict[str, Any], key: str) -> datetime | None:
    raw = obj.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidInput(key, f"{raw!r} is not a timestamp")
    return parse_datetime(key, raw)


def _text(raw: object) -> str | None:
    return raw if isinstance(raw, str) and raw.strip() else None


@lru_cache(maxsize=256)
def _pascal_case(tactic: str) -> str | None:
    """`command-and-control` -> `CommandAndControl` (a bundle names a few tactics, many times)."""
    return "".join(word.capitalize() for word in tactic.split("-") if word) or None


def _attack(obj: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(category, ATT&CK techniques): the first ATT&CK tactic in Pascal case, and the ids."""
    category = None
    for phase in obj.get("kill_chain_phases") or ():
        if isinstance(phase, dict) and phase.get("kill_chain_name") in ATTACK_KILL_CHAINS:
            category = _pascal_case(str(phase.get("phase_name", "")))
            break
    if category is None:
        for label in (obj.get("indicator_types") or []) + (obj.get("labels") or []):
            category = INDICATOR_TYPE_CATEGORIES.get(str(label))
            if category:
                break
    techniques = [
        str(ref["external_id"])
        for ref in obj.get("external_references") or ()
        if isinstance(ref, dict)
        and str(ref.get("source_name", "")).startswith("mitre-")
        and str(ref.get("external_id", "")).upper().startswith("T")
    ]
    return category, techniques
