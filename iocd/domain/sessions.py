"""Portal sessions: a signed-in browser, known to the server by a hash of its random token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class SessionLifetime:
    """A session ends after `idle` without a request, and `absolute` after sign-in whatever."""

    idle: timedelta = timedelta(hours=12)
    absolute: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in browser. `token_hash` is the SHA-256 of the cookie's token (the token itself
    is never stored); `last_seen_at` moves with use, at most once a `touch` interval."""

    token_hash: str
    user_name: str
    created_at: datetime
    last_seen_at: datetime

    def expired(self, now: datetime, lifetime: SessionLifetime) -> bool:
        return (
            now >= self.last_seen_at + lifetime.idle or now >= self.created_at + lifetime.absolute
        )
