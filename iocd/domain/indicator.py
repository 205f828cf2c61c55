"""Indicators: the draft a door submits and the stored, immutable indicator (SPEC section 1)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum

from iocd.domain.decision import Authority
from iocd.domain.scope import scope_key
from iocd.domain.types import Action, IndicatorState, IndicatorType, Severity
from iocd.errors import InvalidInput

MAX_TEXT = {"title": 1024, "description": 8192}
MAX_OTHER_TEXT = 2048
_TECHNIQUE = re.compile(r"T[0-9]{4}(?:\.[0-9]{3})?")
_CATEGORY = re.compile(r"[A-Z][A-Za-z]*")


IdentityKey = tuple[IndicatorType, str, str]
"""(type, canonical value, scope key): one active indicator per identity."""


class CreatedBySource(StrEnum):
    """The door an indicator came through; feeds are `Feed:<name>` and are kept as plain text."""

    PORTAL = "Portal"
    PUBLIC_API = "PublicApi"
    IMPORT = "Import"
    CLI = "Cli"


@dataclass(frozen=True, slots=True)
class IndicatorFields:
    """What the list says about one value: everything a submitter chooses.

    `value` is canonical (domain.values); `raw_value` is what was submitted, kept for provenance.
    `rbac_group_names` is sorted and free of duplicates; empty means all devices.
    """

    indicator_type: IndicatorType
    value: str
    action: Action
    title: str
    description: str
    raw_value: str = ""
    severity: Severity = Severity.INFORMATIONAL
    generate_alert: bool = False
    expiration_time: datetime | None = None
    recommended_actions: str | None = None
    application: str | None = None
    educate_url: str | None = None
    external_id: str | None = None
    category: str | None = None
    mitre_techniques: tuple[str, ...] = ()
    rbac_group_names: tuple[str, ...] = ()

    @property
    def identity(self) -> IdentityKey:
        """One active indicator per (type, canonical value, set of device groups)."""
        return (self.indicator_type, self.value, scope_key(self.rbac_group_names))

    def differs_from(self, other: IndicatorFields) -> list[str]:
        """Names of the fields whose values differ (raw_value is provenance and does not count)."""
        return [
            f.name
            for f in fields(self)
            if f.name != "raw_value" and getattr(self, f.name) != getattr(other, f.name)
        ]


@dataclass(frozen=True, slots=True)
class IndicatorDraft:
    """A submission: the fields, plus how to find what it updates and any guardrail override."""

    fields: IndicatorFields
    target_id: int | None = None
    override_justification: str | None = None


@dataclass(frozen=True, slots=True)
class Indicator:
    """A stored indicator. Immutable: a change makes a new version with `replace`."""

    id: int
    fields: IndicatorFields
    state: IndicatorState
    created_by: str
    created_by_display_name: str
    created_by_source: str
    source_type: str
    created_at: datetime
    last_updated_at: datetime
    last_updated_by: str
    sequence: int
    override_justification: str | None = None
    state_changed_at: datetime | None = None
    authority: Authority = Authority.ORGANISATION
    """Whose decision this is (SPEC 4, rule 1): set at creation from the creator's role (an
    analyst's indicators are GROUP, everyone else's ORGANISATION) and kept by every update."""

    def state_at(self, now: datetime) -> IndicatorState:
        """The state as of `now`: an active indicator past its expiry is expired, swept or not."""
        expiry = self.fields.expiration_time
        if self.state is IndicatorState.ACTIVE and expiry is not None and expiry <= now:
            return IndicatorState.EXPIRED
        return self.state

    def is_active(self, now: datetime) -> bool:
        return self.state_at(now) is IndicatorState.ACTIVE

    def with_fields(self, new_fields: IndicatorFields, **meta: object) -> Indicator:
        return replace(self, fields=new_fields, **meta)  # type: ignore[arg-type]


AUTHORITY_NAMES = {Authority.ORGANISATION: "Organisation", Authority.GROUP: "Group"}
"""Authority -> its wire text (the `authority` extension field)."""
AUTHORITY_BY_NAME = {name: authority for authority, name in AUTHORITY_NAMES.items()}


WIRE_NAMES = {
    "indicator_type": "indicatorType",
    "value": "indicatorValue",
    "action": "action",
    "title": "title",
    "description": "description",
    "raw_value": "rawIndicatorValue",
    "severity": "severity",
    "generate_alert": "generateAlert",
    "expiration_time": "expirationTime",
    "recommended_actions": "recommendedActions",
    "application": "application",
    "educate_url": "educateUrl",
    "external_id": "externalId",
    "category": "category",
    "mitre_techniques": "mitreTechniques",
    "rbac_group_names": "rbacGroupNames",
}
"""IndicatorFields attribute -> wire (API, audit) field name."""


def wire_value(value: object) -> object:
    """A field value as JSON-friendly wire data (enums as text, datetimes in wire form)."""
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, tuple):
        return list(value)
    return value


_ATTRIBUTES = tuple(WIRE_NAMES)


class CreationRecord(dict[str, list[object]]):
    """The changes a create records (see creation_record): a plain dict in every respect; its
    type only tells a store that the content has that fixed shape, so it may encode it
    without walking it."""

    __slots__ = ()


def creation_record(created: IndicatorFields) -> CreationRecord:
    """What a create records: the type, value and action (as [None, value]; enum members are
    str, so they serialise as their wire text).

    The rest is on the indicator itself, and every later update records each field's value
    before it, so any earlier version can be rebuilt from the audit trail. This runs once per
    imported row, hence plain attribute reads rather than a loop over every field.
    """
    return CreationRecord(
        indicatorType=[None, created.indicator_type],
        indicatorValue=[None, created.value],
        action=[None, created.action],
    )


def field_changes(
    before: IndicatorFields | None, after: IndicatorFields
) -> dict[str, list[object]]:
    """Wire field name -> [before, after] for each field that differs; see creation_record."""
    out: dict[str, list[object]] = {}
    if before is None:
        return creation_record(after)
    for name in _ATTRIBUTES:
        if name == "raw_value":
            continue
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            out[WIRE_NAMES[name]] = [wire_value(old), wire_value(new)]
    return out


def check_text(field: str, value: str | None, *, required: bool = False) -> str | None:
    """Trim a free-text field and check its length; empty means not given."""
    text = value.strip() if value is not None else ""
    if not text:
        if required:
            raise InvalidInput(field, "is required", "MissingRequiredParameter")
        return None
    limit = MAX_TEXT.get(field, MAX_OTHER_TEXT)
    if len(text) > limit:
        raise InvalidInput(field, f"is {len(text)} characters long; the limit is {limit}")
    return text


def check_techniques(raw: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for item in raw:
        technique = item.strip().upper()
        if not technique:
            continue
        if not _TECHNIQUE.fullmatch(technique):
            raise InvalidInput(
                "mitreTechniques", f"{item!r} is not a technique id like T1234 or T1234.001"
            )
        if technique not in out:
            out.append(technique)
    return tuple(out)


def check_category(raw: str | None) -> str | None:
    text = check_text("category", raw)
    if text is not None and not _CATEGORY.fullmatch(text):
        raise InvalidInput("category", f"{text!r} is not a Pascal-case category like Execution")
    return text


def resolve_generate_alert(action: Action, requested: bool | None) -> bool:
    """Audit always alerts, Allowed never does; otherwise the caller chooses (default no)."""
    if action is Action.AUDIT:
        if requested is False:
            raise InvalidInput("generateAlert", "must be true for action Audit")
        return True
    if action is Action.ALLOWED:
        return False  # MDE clients often send true for every indicator; Allowed never alerts
    return bool(requested)


_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(Z|z|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)


def parse_datetime(field: str, raw: str) -> datetime:
    """ISO-8601 UTC datetime with 0 to 7 fractional digits and `Z` or an offset; naive is UTC.

    A date alone means midnight UTC. Digits past the sixth fractional one are dropped.
    """
    match = _DATETIME.fullmatch(raw.strip())
    if not match:
        raise InvalidInput(field, f"{raw!r} is not an ISO-8601 datetime like 2030-01-31T00:00:00Z")
    date, minutes, seconds, fraction, zone = match.groups()
    micro = (fraction or "").ljust(6, "0")[:6]
    offset = "+00:00" if zone in (None, "Z", "z") else zone
    if len(offset) == 5:
        offset = f"{offset[:3]}:{offset[3:]}"
    try:
        parsed = datetime.fromisoformat(
            f"{date}T{minutes or '00:00'}:{seconds or '00'}.{micro}{offset}"
        )
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(field, f"{raw!r} is not a valid datetime ({exc})") from None


def format_datetime(value: datetime) -> str:
    """The wire form: UTC with seven fractional digits and Z, as MDE writes it; naive is UTC."""
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:26] + "0Z"  # without the "+00:00"
