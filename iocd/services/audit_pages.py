"""Pages of the audit log for the accounts' administrator: newest first, keyset-paged by id,
optionally one actor's entries or actions containing a text, read in chunks from the store."""

from __future__ import annotations

from iocd.domain.history import AuditEntry
from iocd.services.ports import AccountsTransaction

AUDIT_SCAN = 20_000
"""Entries a filtered page reads at most before it answers with what it found."""


def audit_page(
    tx: AccountsTransaction, limit: int, before_id: int | None, actor: str, action: str
) -> tuple[list[AuditEntry], bool]:
    """A page of at most `limit` entries with ids below `before_id`, only `actor`'s (exact, any
    case) or with `action` in the action when given; and whether more follow."""
    want_actor, want_action = actor.strip().casefold(), action.strip().casefold()
    found: list[AuditEntry] = []
    scanned, cursor = 0, before_id
    while len(found) <= limit and scanned < AUDIT_SCAN:
        chunk = tx.recent_audit(max(limit + 1, 500) if actor or action else limit + 1, cursor)
        if not chunk:
            break
        scanned += len(chunk)
        cursor = chunk[-1].id
        found += [
            e
            for e in chunk
            if (not want_actor or e.actor.casefold() == want_actor)
            and want_action in e.action.casefold()
        ]
        if cursor is None:
            break
    return found[:limit], len(found) > limit
