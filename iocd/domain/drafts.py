"""Turn loosely typed input (wire strings, CSV cells, CLI options) into IndicatorFields, once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from iocd.domain.indicator import (
    IndicatorFields,
    check_category,
    check_techniques,
    check_text,
    parse_datetime,
    resolve_generate_alert,
)
from iocd.domain.scope import check_group_names
from iocd.domain.types import (
    Action,
    IndicatorType,
    Severity,
    check_action_allowed,
    parse_action,
    parse_indicator_type,
    parse_severity,
)
from iocd.domain.values import normalise
from iocd.errors import InvalidInput

MAX_VALUE_LENGTH = 4096
E = TypeVar("E")


def build_fields(
    *,
    indicator_type: str | IndicatorType,
    value: str,
    action: str | Action,
    title: str | None,
    description: str | None,
    severity: str | Severity | None = None,
    generate_alert: bool | None = None,
    expiration_time: str | datetime | None = None,
    recommended_actions: str | None = None,
    application: str | None = None,
    educate_url: str | None = None,
    external_id: str | None = None,
    category: str | None = None,
    mitre_techniques: Iterable[str] = (),
    rbac_group_names: Iterable[str] = (),
) -> IndicatorFields:
    """Validate and normalise every field; raises InvalidInput naming the first bad field."""
    kind = (
        indicator_type
        if isinstance(indicator_type, IndicatorType)
        else _required_enum("indicatorType", indicator_type, parse_indicator_type)
    )
    if value is None or not str(value).strip():
        raise InvalidInput("indicatorValue", "is required", "MissingRequiredParameter")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidInput("indicatorValue", f"is longer than {MAX_VALUE_LENGTH} characters")
    chosen_action = (
        action if isinstance(action, Action) else _required_enum("action", action, parse_action)
    )
    check_action_allowed(kind, chosen_action)
    canonical = normalise(kind, value)
    if isinstance(severity, Severity):
        chosen_severity = severity
    elif severity is None or not severity.strip():
        chosen_severity = Severity.INFORMATIONAL
    else:
        chosen_severity = parse_severity(severity)
    if isinstance(expiration_time, str):
        expiry = (
            parse_datetime("expirationTime", expiration_time) if expiration_time.strip() else None
        )
    else:
        expiry = expiration_time
    return IndicatorFields(
        indicator_type=kind,
        value=canonical,
        raw_value=value,
        action=chosen_action,
        title=check_text("title", title, required=True) or "",
        description=check_text("description", description, required=True) or "",
        severity=chosen_severity,
        generate_alert=resolve_generate_alert(chosen_action, generate_alert),
        expiration_time=expiry,
        recommended_actions=check_text("recommendedActions", recommended_actions),
        application=check_text("application", application),
        educate_url=check_text("educateUrl", educate_url),
        external_id=check_text("externalId", external_id),
        category=check_category(category),
        mitre_techniques=check_techniques(tuple(mitre_techniques)),
        rbac_group_names=check_group_names(rbac_group_names),
    )


def _required_enum(field: str, raw: str | None, parse: Callable[[str], E]) -> E:
    if raw is None or not str(raw).strip():
        raise InvalidInput(field, "is required", "MissingRequiredParameter")
    return parse(str(raw))
