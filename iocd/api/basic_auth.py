"""HTTP Basic for the doors machines poll: TAXII clients (OpenCTI, MISP, taxii2-client) and
enforcement points (firewalls, resolvers), which send Basic on every request, or a bearer token.

Basic takes an application's client id and secret (the credentials of the OAuth2 token
endpoint), or a user name with that user's personal token as the password. Checking a client
secret costs an argon2 hash (tens of milliseconds), too much for every page of a long download:
the first check issues the application a token, which later requests with the same credentials
reuse until shortly before it expires. The token is still verified on every request, so revoking
the application stops it at once. Credentials are cached by a digest, never in clear.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections import OrderedDict

from fastapi import Request

from iocd.compose import Instance
from iocd.domain.accounts import Application
from iocd.domain.principal import Principal
from iocd.services.accounts import Unauthorized
from iocd.services.credentials import PERSONAL_PREFIX

REUSE_SECONDS = 3000.0
"""How long a token issued for Basic credentials is reused (tokens live an hour)."""
KEPT_CREDENTIALS = 1000


class BasicTokens:
    """Tokens issued for Basic credentials, by a digest of the credentials (never the secret)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def token(self, instance: Instance, client_id: str, secret: str) -> str:
        key = hashlib.sha256(f"{client_id}\x00{secret}".encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            kept = self._tokens.get(key)
        if kept is not None and kept[1] > now:
            return kept[0]
        accounts = instance.accounts
        token, _ = accounts.issue_token(accounts.tenant_id(), client_id, secret)
        with self._lock:
            self._tokens[key] = (token, now + REUSE_SECONDS)
            while len(self._tokens) > KEPT_CREDENTIALS:
                self._tokens.popitem(last=False)
        return token


_guard = threading.Lock()


def _tokens(request: Request) -> BasicTokens:
    state = request.app.state
    with _guard:
        if not hasattr(state, "basic_tokens"):
            state.basic_tokens = BasicTokens()
    tokens: BasicTokens = state.basic_tokens
    return tokens


def basic_pair(encoded: str) -> tuple[str, str]:
    """(user or client id, secret) of Basic credentials; Unauthorized when malformed."""
    try:
        pair = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("the Basic credentials are not valid base64 of user:secret") from None
    user, colon, secret = pair.partition(":")
    if not colon or not user or not secret:
        raise Unauthorized("the Basic credentials need a user (or client id) and a secret")
    return user, secret


def basic_or_bearer(request: Request, door: str) -> tuple[Principal, Application | None]:
    """The caller of a request with Basic or bearer credentials (Unauthorized otherwise)."""
    instance: Instance = request.app.state.instance
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        user, secret = basic_pair(credentials)
        if secret.startswith(PERSONAL_PREFIX):
            principal, app = instance.accounts.authenticate(secret, door)
            if principal.name != user:
                raise Unauthorized("the personal token is not that user's")
            return principal, app
        return instance.accounts.authenticate(_tokens(request).token(instance, user, secret), door)
    if scheme.lower() == "bearer" and credentials.strip():
        return instance.accounts.authenticate(credentials.strip(), door)
    raise Unauthorized("credentials are required: HTTP Basic or a bearer token")
