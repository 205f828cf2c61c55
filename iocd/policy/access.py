"""Who may read and write which indicators (SPEC section 9). Pure.

- Global and security administrators: every indicator.
- Analysts: indicators scoped to device groups, all within the analyst's groups; they cannot
  create all-devices indicators.
- Read-only users: read everything, write nothing.
- Alerts: analysts see and change the alerts of devices in their groups; read-only users and
  applications holding only `Ti.ReadWrite` see the alerts they may see (for such an application,
  the alerts of its own indicators) and read-only users change none.
- Applications act organisation-wide; one holding only `Ti.ReadWrite` (own_only) sees and changes
  only the indicators it created.
"""

from __future__ import annotations

from collections.abc import Iterable

from iocd.domain.alerts import Alert, alert_visible
from iocd.domain.decision import Authority
from iocd.domain.indicator import Indicator, IndicatorFields
from iocd.domain.principal import Principal, Role
from iocd.domain.query import Sight, Visibility, visible
from iocd.errors import Forbidden


def sight_for(principal: Principal) -> Sight:
    if principal.own_only:
        return Sight(Visibility.OWN, owner=principal.name)
    if principal.role is Role.ANALYST:
        return Sight(Visibility.GROUPS, groups=principal.device_groups)
    return Sight()


def authority_of(principal: Principal) -> Authority:
    """The authority of what this principal creates (SPEC 4, rule 1): analysts act for their
    device groups; administrators and applications for the whole organisation."""
    return Authority.GROUP if principal.role is Role.ANALYST else Authority.ORGANISATION


def can_read(principal: Principal, indicator: Indicator) -> bool:
    return visible(sight_for(principal), indicator)


def check_write(principal: Principal, fields: IndicatorFields, existing: Indicator | None) -> None:
    """Raise Forbidden unless the principal may store `fields`, replacing `existing` if given."""
    if principal.role is Role.READ_ONLY:
        raise Forbidden(f"{principal.label} has a read-only role")
    if existing is not None and not can_read(principal, existing):
        raise Forbidden(f"indicator {existing.id} is outside the scope of {principal.label}")
    check_write_scope(principal, fields.rbac_group_names)


def check_write_scope(principal: Principal, rbac_group_names: Iterable[str]) -> None:
    """Raise Forbidden unless the principal may write indicators scoped to these device groups
    (none: all devices)."""
    if principal.role is Role.READ_ONLY:
        raise Forbidden(f"{principal.label} has a read-only role")
    if principal.role is Role.ANALYST:
        groups = set(rbac_group_names)
        if not groups:
            raise Forbidden("analysts cannot create or change indicators that apply to all devices")
        outside = groups - principal.device_groups
        if outside:
            raise Forbidden(
                f"device groups {', '.join(sorted(outside))} are outside the scope of "
                f"{principal.label}"
            )


def check_delete(principal: Principal, indicator: Indicator) -> None:
    check_write(principal, indicator.fields, indicator)


def can_read_alert(principal: Principal, alert: Alert) -> bool:
    return alert_visible(sight_for(principal), alert)


def check_alert_write(principal: Principal, alert: Alert) -> None:
    """Raise Forbidden unless the principal may change (triage, comment on) the alert."""
    if principal.role is Role.READ_ONLY:
        raise Forbidden(f"{principal.label} has a read-only role")
    if not can_read_alert(principal, alert):
        raise Forbidden(f"alert {alert.id} is outside the scope of {principal.label}")
