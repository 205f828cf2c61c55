"""Secrets and tokens: argon2 hashes for client secrets and passwords, SHA-256 for high-entropy
personal-token secrets, and HS256-signed JWTs for applications. Nothing secret is ever stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_LIFETIME = timedelta(hours=1)
AUDIENCE = "iocd"
PERSONAL_PREFIX = "iocd_pat_"
CLOCK_SKEW_SECONDS = 60


@dataclass(frozen=True)
class HashCost:
    """argon2id parameters; tests use cheap ones, production the library's defaults."""

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4


class SecretHasher:
    def __init__(self, cost: HashCost | None = None) -> None:
        c = cost or HashCost()
        self._hasher = PasswordHasher(
            time_cost=c.time_cost, memory_cost=c.memory_cost, parallelism=c.parallelism
        )

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, hashed: str, secret: str) -> bool:
        try:
            return self._hasher.verify(hashed, secret)
        except (VerificationError, InvalidHashError):
            return False


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def new_signing_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy random secret (personal tokens): fast to check, safe to store."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_digest(stored: str, secret: str) -> bool:
    return hmac.compare_digest(stored, digest(secret))


def issue_app_token(
    key: str, tenant: str, client_id: str, roles: list[str], now: datetime, version: str
) -> tuple[str, int]:
    """A signed access token for an application and its lifetime in seconds."""
    expires = now + TOKEN_LIFETIME
    claims: dict[str, Any] = {
        "aud": AUDIENCE,
        "iss": f"iocd:{tenant}",
        "tid": tenant,
        "appid": client_id,
        "sub": client_id,
        "roles": roles,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "ver": version,
        "jti": secrets.token_hex(8),
    }
    token = jwt.encode(claims, base64.urlsafe_b64decode(key), algorithm="HS256")
    return token, int(TOKEN_LIFETIME.total_seconds()) - 1


def read_app_token(key: str, tenant: str, token: str, now: datetime) -> dict[str, Any] | None:
    """The claims of a valid token of this tenant, or None (bad signature, expired, other
    tenant)."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            base64.urlsafe_b64decode(key),
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=f"iocd:{tenant}",
            # Time claims are checked below against the injected clock, not the wall clock.
            options={
                "require": ["exp", "iat", "tid", "appid", "roles"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        return None
    instant = int(now.timestamp())
    if claims.get("tid") != tenant or int(claims["exp"]) <= instant:
        return None
    if int(claims.get("nbf", claims["iat"])) > instant + CLOCK_SKEW_SECONDS:
        return None
    return claims
