"""Portal sign-in: the first-run administrator, password sign-in, sessions and sign-out.

A session is a random token in the browser's cookie; the store keeps only its SHA-256, so a copy
of the database signs nobody in. A session ends after `lifetime.idle` without use or
`lifetime.absolute` after sign-in, or at sign-out; a disabled user's sessions stop working at
once. Principals come from AccountService.principal_of(user, "Portal"), so roles and device
groups act exactly as through the API.

Sign-in failures are audited and throttled (`SignInThrottle`): a few per user name and address,
more per address, within a window; past that, attempts are refused until the window moves on.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from iocd.clock import Clock
from iocd.domain.accounts import User, check_name
from iocd.domain.history import AuditEntry
from iocd.domain.principal import Principal, Role
from iocd.domain.sessions import Session, SessionLifetime
from iocd.errors import Conflict, InvalidInput
from iocd.services.accounts import AccountService
from iocd.services.credentials import SecretHasher, digest
from iocd.services.ports import Store

DOOR = "Portal"
MIN_PASSWORD = 12
TOUCH_EVERY = timedelta(minutes=1)
"""`last_seen_at` is written at most this often per session (not on every page view)."""


class SignInRefused(Exception):
    """Wrong user name or password, or a disabled user (one message for all: no hints)."""


class TooManyAttempts(SignInRefused):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} seconds")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the principal and the token for the cookie (never stored)."""

    principal: Principal
    token: str


class SignInThrottle:
    """Failed sign-ins per (user name, address) and per address within `window` (per process)."""

    def __init__(
        self, per_name: int = 5, per_address: int = 30, window: timedelta = timedelta(minutes=15)
    ) -> None:
        self._limits = {"name": per_name, "address": per_address}
        self._window = window
        self._failures: dict[tuple[str, ...], deque[datetime]] = {}
        self._lock = threading.Lock()

    def _keys(self, name: str, address: str) -> list[tuple[tuple[str, ...], int]]:
        return [
            (("name", name.casefold(), address), self._limits["name"]),
            (("address", address), self._limits["address"]),
        ]

    def retry_after(self, name: str, address: str, now: datetime) -> int | None:
        """Seconds to wait before another attempt, or None if one may be made now."""
        with self._lock:
            waits = []
            for key, limit in self._keys(name, address):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(int((times[0] + self._window - now).total_seconds()) + 1)
            return max(waits) if waits else None

    def failed(self, name: str, address: str, now: datetime) -> None:
        with self._lock:
            for key, _ in self._keys(name, address):
                self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 10_000:  # bounded memory under a spray of names
                for key in [k for k in self._failures if not self._recent(k, now)]:
                    del self._failures[key]

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(name, address)[0][0], None)

    def _recent(self, key: tuple[str, ...], now: datetime) -> deque[datetime]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        return times


class SessionService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        hasher: SecretHasher,
        lifetime: SessionLifetime | None = None,
        throttle: SignInThrottle | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._hasher = hasher
        self.lifetime = lifetime or SessionLifetime()
        self._throttle = throttle or SignInThrottle()
        self._set_up = False
        self._dummy_hash: str | None = None

    # -- first run ----------------------------------------------------------------------------

    def needs_setup(self) -> bool:
        """True while no user exists (then the portal offers to create the first one)."""
        if not self._set_up:
            with self._store.accounts(readonly=True) as tx:
                self._set_up = bool(tx.list_users())
        return not self._set_up

    def set_up(
        self, name: str, display_name: str, password: str, confirmation: str, address: str
    ) -> SignedIn:
        """Create the first global administrator and sign them in; Conflict once any user
        exists."""
        if not self.needs_setup():
            raise Conflict("iocd is set up already: sign in instead")
        check_password(password, confirmation)
        user = User(
            name=check_name("name", name),
            role=Role.GLOBAL_ADMINISTRATOR,
            created_at=self._clock.now(),
            display_name=display_name.strip(),
            password_hash=self._hasher.hash(password),
        )
        with self._store.accounts() as tx:
            if tx.list_users():
                raise Conflict("iocd is set up already: sign in instead")
            tx.put_user(user)
            tx.append_audit(
                [self._entry(user.name, "user created", {"user": user.name, "firstRun": True})]
            )
        self._set_up = True
        return self._open(user, address)

    # -- sign-in and sessions -----------------------------------------------------------------

    def sign_in(self, name: str, password: str, address: str) -> SignedIn:
        """A new session for the user, or SignInRefused (TooManyAttempts when throttled)."""
        now = self._clock.now()
        name = name.strip()[:128]
        wait = self._throttle.retry_after(name, address, now)
        if wait is not None:
            self._audit(name, "sign-in refused", {"address": address, "reason": "throttled"})
            raise TooManyAttempts(wait)
        with self._store.sessions(readonly=True) as tx:
            user = tx.get_user(name) if name else None
        if user is None or user.disabled or user.password_hash is None:
            self._hasher.verify(self._dummy(), password)  # the same time as a real check
            ok = False
        else:
            ok = self._hasher.verify(user.password_hash, password)
        if not ok or user is None:
            self._throttle.failed(name, address, now)
            self._audit(name or "-", "sign-in failed", {"address": address})
            raise SignInRefused("the user name or password is not right")
        self._throttle.succeeded(name, address)
        return self._open(user, address)

    def resume(self, token: str) -> Principal | None:
        """The principal of a live session, or None (unknown, expired, or user disabled)."""
        if not token:
            return None
        now = self._clock.now()
        key = digest(token)
        with self._store.sessions(readonly=True) as tx:
            session = tx.get_session(key)
            user = tx.get_user(session.user_name) if session is not None else None
        if session is None or user is None or user.disabled:
            return None
        if session.expired(now, self.lifetime):
            with self._store.sessions() as tx:
                tx.delete_session(key)
            return None
        if now - session.last_seen_at >= TOUCH_EVERY:
            with self._store.sessions() as tx:
                if tx.get_session(key) is not None:
                    tx.put_session(Session(key, user.name, session.created_at, now))
        return AccountService.principal_of(user, DOOR)

    def sign_out(self, token: str) -> None:
        key = digest(token)
        with self._store.sessions() as tx:
            session = tx.get_session(key)
            if session is not None:
                tx.delete_session(key)
                tx.append_audit([self._entry(session.user_name, "signed out", {})])

    # -- helpers ------------------------------------------------------------------------------

    def _open(self, user: User, address: str) -> SignedIn:
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        with self._store.sessions() as tx:
            tx.purge_sessions(now - self.lifetime.idle, now - self.lifetime.absolute)
            tx.put_session(Session(digest(token), user.name, now, now))
            tx.append_audit([self._entry(user.name, "signed in", {"address": address})])
        return SignedIn(AccountService.principal_of(user, DOOR), token)

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def _entry(self, actor: str, action: str, changes: dict[str, Any]) -> AuditEntry:
        return AuditEntry(self._clock.now(), actor, DOOR, action, None, changes)

    def _audit(self, actor: str, action: str, changes: dict[str, Any]) -> None:
        with self._store.sessions() as tx:
            tx.append_audit([self._entry(actor, action, changes)])


def check_password(password: str, confirmation: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD} characters")
    if not hmac.compare_digest(password.encode(), confirmation.encode()):
        raise InvalidInput("confirmation", "the two passwords differ")
