"""Account use cases: applications and their tokens, users and personal tokens, device groups,
and turning a bearer token into a principal. Only global administrators manage accounts."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from iocd.clock import Clock
from iocd.domain.accounts import (
    Application,
    AppRole,
    DeviceGroup,
    GroupRules,
    PersonalToken,
    User,
    check_name,
)
from iocd.domain.history import AuditEntry
from iocd.domain.principal import Principal, PrincipalKind, Role
from iocd.domain.scope import check_group_names
from iocd.errors import Conflict, Forbidden, InvalidInput, NotFound
from iocd.services import credentials
from iocd.services.audit_pages import audit_page
from iocd.services.ports import AccountsTransaction, Store


class Unauthorized(Exception):
    """Credentials missing or not valid (an OAuth2-shaped or MDE-shaped 401 at the door)."""


class AccountService:
    def __init__(self, store: Store, clock: Clock, hasher: credentials.SecretHasher) -> None:
        self._store = store
        self._clock = clock
        self._hasher = hasher
        self._instance_keys: tuple[str, str] | None = None

    # -- the instance: tenant id and signing key, made on first use -------------------------

    def _keys(self) -> tuple[str, str]:
        if self._instance_keys is None:
            with self._store.accounts(readonly=True) as tx:
                tenant = tx.get_setting("tenant_id")
                key = tx.get_setting("jwt_signing_key")
            if tenant is not None and key is not None:
                self._instance_keys = (tenant, key)
                return self._instance_keys
            with self._store.accounts() as tx:
                tenant = tx.get_setting("tenant_id")
                key = tx.get_setting("jwt_signing_key")
                if tenant is None or key is None:
                    tenant, key = str(uuid.uuid4()), credentials.new_signing_key()
                    tx.put_setting("tenant_id", tenant)
                    tx.put_setting("jwt_signing_key", key)
            self._instance_keys = (tenant, key)
        return self._instance_keys

    def tenant_id(self) -> str:
        return self._keys()[0]

    # -- applications -------------------------------------------------------------------------

    def register_application(
        self,
        name: str,
        role: AppRole,
        principal: Principal,
        rate_limit_per_minute: int | None = None,
    ) -> tuple[Application, str]:
        """A new application and its secret (shown once; only a hash is kept)."""
        self._require_admin(principal)
        if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
            raise InvalidInput("rateLimit", "must be at least 1 request per minute")
        secret = credentials.new_secret()
        app = Application(
            client_id=str(uuid.uuid4()),
            name=check_name("name", name),
            role=role,
            secret_hash=self._hasher.hash(secret),
            created_at=self._clock.now(),
            created_by=principal.name,
            rate_limit_per_minute=rate_limit_per_minute,
        )
        with self._store.accounts() as tx:
            tx.put_application(app)
            self._audit(
                tx,
                principal,
                "application created",
                {"clientId": app.client_id, "name": app.name, "role": role.value},
            )
        return app, secret

    def list_applications(self, principal: Principal) -> list[Application]:
        self._require_admin(principal)
        with self._store.accounts(readonly=True) as tx:
            return tx.list_applications()

    def revoke_application(self, client_id: str, principal: Principal) -> Application:
        self._require_admin(principal)
        with self._store.accounts() as tx:
            app = tx.get_application(client_id)
            if app is None:
                raise NotFound(f"application {client_id} not found")
            if app.revoked_at is None:
                app = replace(app, revoked_at=self._clock.now())
                tx.put_application(app)
                self._audit(tx, principal, "application revoked", {"clientId": client_id})
            return app

    def issue_token(
        self, tenant: str, client_id: str, client_secret: str, version: str = "2.0"
    ) -> tuple[str, int]:
        """OAuth2 client credentials: a signed token, or Unauthorized."""
        our_tenant, key = self._keys()
        if tenant not in (our_tenant, "common", "organizations"):
            raise Unauthorized(f"tenant {tenant!r} is not this iocd instance")
        with self._store.accounts(readonly=True) as tx:
            app = tx.get_application(client_id)
        if app is None or not app.active or not self._hasher.verify(app.secret_hash, client_secret):
            raise Unauthorized(
                "the client id or secret is not valid, or the application is revoked"
            )
        return credentials.issue_app_token(
            key, our_tenant, app.client_id, [app.role.value], self._clock.now(), version
        )

    # -- authentication -----------------------------------------------------------------------

    def authenticate(self, bearer: str, door: str) -> tuple[Principal, Application | None]:
        """The principal behind a bearer token (application JWT or personal token)."""
        if bearer.startswith(credentials.PERSONAL_PREFIX):
            return self._personal(bearer, door), None
        tenant, key = self._keys()
        claims = credentials.read_app_token(key, tenant, bearer, self._clock.now())
        if claims is None:
            raise Unauthorized("the access token is not valid (signature, tenant or expiry)")
        with self._store.accounts(readonly=True) as tx:
            app = tx.get_application(str(claims["appid"]))
        if app is None or not app.active:
            raise Unauthorized("the application behind this token is revoked")
        roles: list[Any] = list(claims["roles"])
        own_only = AppRole.READ_WRITE_ALL.value not in roles
        forwarder = roles == [AppRole.TELEMETRY_WRITE.value]
        principal = Principal(
            app.client_id,
            Role.READ_ONLY if forwarder else Role.SECURITY_ADMINISTRATOR,
            door,
            PrincipalKind.APPLICATION,
            display_name=app.name,
            own_only=own_only,
            telemetry_only=forwarder,
        )
        return principal, app

    def _personal(self, bearer: str, door: str) -> Principal:
        body = bearer.removeprefix(credentials.PERSONAL_PREFIX)
        token_id, _, secret = body.partition("_")
        with self._store.accounts(readonly=True) as tx:
            token = tx.get_token(token_id)
            user = tx.get_user(token.user_name) if token else None
        now = self._clock.now()
        if (
            token is None
            or user is None
            or not credentials.same_digest(token.secret_hash, secret)
            or token.revoked_at is not None
            or (token.expires_at is not None and token.expires_at <= now)
            or user.disabled
        ):
            raise Unauthorized("the personal token is not valid, expired or revoked")
        return self.principal_of(user, door)

    @staticmethod
    def principal_of(user: User, door: str) -> Principal:
        return Principal(
            user.name,
            user.role,
            door,
            PrincipalKind.USER,
            user.display_name or user.name,
            frozenset(user.device_groups),
        )

    # -- users and personal tokens ------------------------------------------------------------

    def create_user(
        self,
        name: str,
        role: Role,
        principal: Principal,
        *,
        device_groups: Sequence[str] = (),
        password: str | None = None,
        display_name: str = "",
    ) -> User:
        self._require_admin(principal)
        if password is not None and len(password) < 12:
            raise InvalidInput("password", "must be at least 12 characters")
        user = User(
            name=check_name("name", name),
            role=role,
            created_at=self._clock.now(),
            display_name=display_name.strip(),
            device_groups=check_group_names(device_groups, "deviceGroups"),
            password_hash=self._hasher.hash(password) if password else None,
        )
        with self._store.accounts() as tx:
            if tx.get_user(user.name) is not None:
                raise Conflict(f"user {user.name} exists")
            self._check_groups_exist(tx, user.device_groups)
            tx.put_user(user)
            self._audit(
                tx,
                principal,
                "user created",
                {"user": user.name, "role": role.value, "deviceGroups": list(user.device_groups)},
            )
        return user

    def list_users(self, principal: Principal) -> list[User]:
        self._require_admin(principal)
        with self._store.accounts(readonly=True) as tx:
            return tx.list_users()

    def set_role(
        self,
        name: str,
        role: Role,
        principal: Principal,
        device_groups: Sequence[str] | None = None,
    ) -> User:
        self._require_admin(principal)
        with self._store.accounts() as tx:
            user = self._user(tx, name)
            groups = (
                check_group_names(device_groups, "deviceGroups")
                if device_groups is not None
                else user.device_groups
            )
            self._check_groups_exist(tx, groups)
            updated = replace(user, role=role, device_groups=groups)
            tx.put_user(updated)
            self._audit(
                tx,
                principal,
                "user role set",
                {"user": name, "role": role.value, "deviceGroups": list(groups)},
            )
        return updated

    def disable_user(self, name: str, principal: Principal) -> User:
        self._require_admin(principal)
        with self._store.accounts() as tx:
            user = replace(self._user(tx, name), disabled=True)
            tx.put_user(user)
            self._audit(tx, principal, "user disabled", {"user": name})
        return user

    def create_personal_token(
        self, user_name: str, name: str, principal: Principal, expires_at: datetime | None = None
    ) -> tuple[PersonalToken, str]:
        """A personal API token: the full token text is returned once and never stored."""
        if principal.name != user_name:
            self._require_admin(principal)
        secret = credentials.new_secret()
        token = PersonalToken(
            token_id=secrets.token_hex(8),
            user_name=user_name,
            name=check_name("name", name),
            secret_hash=credentials.digest(secret),
            created_at=self._clock.now(),
            expires_at=expires_at,
        )
        with self._store.accounts() as tx:
            user = self._user(tx, user_name)
            if user.disabled:
                raise InvalidInput("user", f"user {user_name} is disabled")
            tx.put_token(token)
            self._audit(
                tx,
                principal,
                "personal token created",
                {"user": user_name, "tokenId": token.token_id},
            )
        return token, f"{credentials.PERSONAL_PREFIX}{token.token_id}_{secret}"

    def revoke_personal_token(self, token_id: str, principal: Principal) -> None:
        with self._store.accounts() as tx:
            token = tx.get_token(token_id)
            if token is None:
                raise NotFound(f"token {token_id} not found")
            if principal.name != token.user_name:
                self._require_admin(principal)
            tx.put_token(replace(token, revoked_at=self._clock.now()))
            self._audit(tx, principal, "personal token revoked", {"tokenId": token_id})

    def verify_password(self, name: str, password: str) -> User | None:
        """The user if the password is right and the user enabled (portal sign-in)."""
        with self._store.accounts(readonly=True) as tx:
            user = tx.get_user(name)
        if user is None or user.disabled or user.password_hash is None:
            return None
        return user if self._hasher.verify(user.password_hash, password) else None

    # -- device groups ------------------------------------------------------------------------

    def create_group(
        self,
        name: str,
        rank: int | None,
        rules: GroupRules,
        principal: Principal,
        description: str = "",
    ) -> DeviceGroup:
        self._require_admin(principal)
        group_name = check_group_names([name], "name")
        if not group_name:
            raise InvalidInput("name", "is required")
        with self._store.accounts() as tx:
            groups = tx.list_groups()
            if any(g.name == group_name[0] for g in groups):
                raise Conflict(f"device group {group_name[0]} exists")
            chosen = rank if rank is not None else len(groups) + 1
            group = DeviceGroup(group_name[0], chosen, rules, self._clock.now(), description)
            self._rerank(tx, [*groups, group], group)
            self._audit(
                tx, principal, "device group created", {"group": group.name, "rank": group.rank}
            )
        return group

    def list_groups(self, principal: Principal) -> list[DeviceGroup]:
        with self._store.accounts(readonly=True) as tx:
            return tx.list_groups()

    def rank_group(self, name: str, rank: int, principal: Principal) -> list[DeviceGroup]:
        self._require_admin(principal)
        with self._store.accounts() as tx:
            groups = tx.list_groups()
            target = next((g for g in groups if g.name == name), None)
            if target is None:
                raise NotFound(f"device group {name} not found")
            self._rerank(tx, groups, replace(target, rank=rank))
            self._audit(tx, principal, "device group ranked", {"group": name, "rank": rank})
            return tx.list_groups()

    def update_group(
        self, name: str, rules: GroupRules, principal: Principal, description: str | None = None
    ) -> DeviceGroup:
        """Replace a group's rules (and description); its name and rank stay."""
        self._require_admin(principal)
        with self._store.accounts() as tx:
            group = tx.get_group(name)
            if group is None:
                raise NotFound(f"device group {name} not found")
            chosen = description.strip() if description is not None else group.description
            updated = replace(group, rules=rules, description=chosen)
            tx.put_group(updated)
            self._audit(tx, principal, "device group updated", {"group": name})
        return updated

    def delete_group(self, name: str, principal: Principal) -> None:
        self._require_admin(principal)
        with self._store.accounts() as tx:
            if not tx.delete_group(name):
                raise NotFound(f"device group {name} not found")
            self._rerank(tx, tx.list_groups(), None)
            self._audit(tx, principal, "device group deleted", {"group": name})

    @staticmethod
    def _rerank(
        tx: AccountsTransaction, groups: list[DeviceGroup], moved: DeviceGroup | None
    ) -> None:
        """Ranks stay 1..n without gaps; a moved group takes its new place, others shift."""
        if moved is not None and moved.rank < 1:
            raise InvalidInput("rank", "must be 1 or more (1 is the highest)")
        others = sorted(
            (g for g in groups if moved is None or g.name != moved.name),
            key=lambda g: (g.rank, g.name),
        )
        ordered = list(others)
        if moved is not None:
            ordered.insert(min(moved.rank, len(others) + 1) - 1, moved)
        for position, group in enumerate(ordered, start=1):
            tx.put_group(replace(group, rank=position))

    # -- the audit log --------------------------------------------------------------------------

    def audit_log(
        self,
        principal: Principal,
        limit: int = 50,
        before_id: int | None = None,
        actor: str = "",
        action: str = "",
    ) -> tuple[list[AuditEntry], bool]:
        """A page of the audit log, newest first (keyset: ids below `before_id`), optionally
        only one actor's entries (exact, any case) or actions containing `action`; and whether
        more follow (see services.audit_pages)."""
        self._require_admin(principal)
        with self._store.accounts(readonly=True) as tx:
            return audit_page(tx, limit, before_id, actor, action)

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _require_admin(principal: Principal) -> None:
        if (
            principal.role is not Role.GLOBAL_ADMINISTRATOR
            or principal.kind is not PrincipalKind.USER
        ):
            raise Forbidden("only a global administrator manages accounts and device groups")

    @staticmethod
    def _user(tx: AccountsTransaction, name: str) -> User:
        user = tx.get_user(name)
        if user is None:
            raise NotFound(f"user {name} not found")
        return user

    @staticmethod
    def _check_groups_exist(tx: AccountsTransaction, names: Sequence[str]) -> None:
        known = {g.name for g in tx.list_groups()}
        missing = [n for n in names if n not in known]
        if missing:
            raise InvalidInput("deviceGroups", f"unknown device group(s): {', '.join(missing)}")

    def _audit(
        self, tx: AccountsTransaction, principal: Principal, action: str, changes: dict[str, Any]
    ) -> None:
        tx.append_audit(
            [AuditEntry(self._clock.now(), principal.name, principal.door, action, None, changes)]
        )
