"""Conversion between accounts (applications, users, personal tokens, device groups) and their
table rows. They are few and written through SQLAlchemy Core, so their values are dicts keyed by
column name, datetimes left to UtcDateTime."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Row

from iocd.domain.accounts import (
    Application,
    AppRole,
    DeviceGroup,
    GroupRules,
    PersonalToken,
    User,
)
from iocd.domain.principal import Role
from iocd.domain.scope import SEPARATOR
from iocd.store.mapping import split

_ROLES = {m.value: m for m in Role}
_APP_ROLES = {m.value: m for m in AppRole}


def application_values(app: Application) -> dict[str, Any]:
    return {
        "client_id": app.client_id,
        "name": app.name,
        "role": app.role.value,
        "secret_hash": app.secret_hash,
        "created_at": app.created_at,
        "created_by": app.created_by,
        "revoked_at": app.revoked_at,
        "rate_limit_per_minute": app.rate_limit_per_minute,
    }


def application_from_row(row: Row[Any]) -> Application:
    m = row._mapping
    return Application(
        client_id=m["client_id"],
        name=m["name"],
        role=_APP_ROLES[m["role"]],
        secret_hash=m["secret_hash"],
        created_at=m["created_at"],
        created_by=m["created_by"],
        revoked_at=m["revoked_at"],
        rate_limit_per_minute=m["rate_limit_per_minute"],
    )


def user_values(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role.value,
        "created_at": user.created_at,
        "display_name": user.display_name,
        "device_groups": SEPARATOR.join(user.device_groups),
        "password_hash": user.password_hash,
        "disabled": user.disabled,
    }


def user_from_row(row: Row[Any]) -> User:
    m = row._mapping
    return User(
        name=m["name"],
        role=_ROLES[m["role"]],
        created_at=m["created_at"],
        display_name=m["display_name"],
        device_groups=split(m["device_groups"]),
        password_hash=m["password_hash"],
        disabled=bool(m["disabled"]),
    )


def token_values(token: PersonalToken) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "user_name": token.user_name,
        "name": token.name,
        "secret_hash": token.secret_hash,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


def token_from_row(row: Row[Any]) -> PersonalToken:
    m = row._mapping
    return PersonalToken(
        token_id=m["token_id"],
        user_name=m["user_name"],
        name=m["name"],
        secret_hash=m["secret_hash"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        revoked_at=m["revoked_at"],
    )


_RULE_KINDS = ("names", "domains", "tags", "os")


def device_group_values(group: DeviceGroup) -> dict[str, Any]:
    """A `device_groups` row; the rules are JSON text with one list per kind of pattern."""
    rules = {kind: list(getattr(group.rules, kind)) for kind in _RULE_KINDS}
    return {
        "name": group.name,
        "rank": group.rank,
        "description": group.description,
        "created_at": group.created_at,
        "rules": json.dumps(rules, ensure_ascii=False),
    }


def device_group_from_row(row: Row[Any]) -> DeviceGroup:
    m = row._mapping
    stored = json.loads(m["rules"])
    rules = GroupRules(**{kind: tuple(stored.get(kind, ())) for kind in _RULE_KINDS})
    return DeviceGroup(
        name=m["name"],
        rank=m["rank"],
        rules=rules,
        created_at=m["created_at"],
        description=m["description"],
    )
