"""What the admin pages share: secrets shown once after a redirect, and form parsing."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Form, Request

from iocd.domain.accounts import GroupRules

SHOW_FOR_SECONDS = 300.0
_CREATING = threading.Lock()
Text = Annotated[str, Form(max_length=4096)]
Choices = Annotated[list[str] | None, Form()]


@dataclass
class ShownOnce:
    """Secrets waiting to be shown once on the page a creating POST redirects to (so a reload
    or the back button never shows them again): kept in memory under a random key, for the
    user who made them, for a few minutes at most, and forgotten when taken."""

    _items: dict[str, tuple[str, float, dict[str, str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, owner: str, payload: dict[str, str]) -> str:
        key = secrets.token_urlsafe(16)
        now = time.monotonic()
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if v[1] > now}
            self._items[key] = (owner, now + SHOW_FOR_SECONDS, payload)
        return key

    def take(self, key: str | None, owner: str) -> dict[str, str] | None:
        if not key:
            return None
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != owner or item[1] <= time.monotonic():
                return None
            del self._items[key]
        return item[2]


def shown_once(request: Request) -> ShownOnce:
    """The portal's one store of secrets to show once."""
    state = request.app.state
    with _CREATING:
        if not hasattr(state, "shown_once"):
            state.shown_once = ShownOnce()
    chosen: ShownOnce = state.shown_once
    return chosen


def patterns(raw: str) -> tuple[str, ...]:
    """Shell patterns typed as a comma- or line-separated list."""
    parts = raw.replace("\n", ",").split(",")
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def rules_from(names: str, domains: str, tags: str, os: str) -> GroupRules:
    return GroupRules(patterns(names), patterns(domains), patterns(tags), patterns(os))


def rules_text(rules: GroupRules) -> dict[str, str]:
    """The form fields of a rule set."""
    return {
        "names": ", ".join(rules.names),
        "domains": ", ".join(rules.domains),
        "tags": ", ".join(rules.tags),
        "os": ", ".join(rules.os),
    }
