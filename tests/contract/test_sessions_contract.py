"""Portal sessions behave the same on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from iocd.domain.accounts import User
from iocd.domain.principal import Role
from iocd.domain.sessions import Session
from iocd.services.ports import Store
from tests.factories import T0, make_audit

H = timedelta(hours=1)


def test_put_get_replace_delete(store: Store) -> None:
    session = Session("a" * 64, "alice", T0, T0)
    with store.sessions() as tx:
        tx.put_session(session)
    with store.sessions(readonly=True) as tx:
        assert tx.get_session("a" * 64) == session
        assert tx.get_session("b" * 64) is None
    moved = Session("a" * 64, "alice", T0, T0 + H)
    with store.sessions() as tx:
        tx.put_session(moved)
    with store.sessions() as tx:
        assert tx.get_session("a" * 64) == moved
        assert tx.delete_session("a" * 64)
        assert not tx.delete_session("a" * 64)
        assert tx.get_session("a" * 64) is None


def test_purge_by_idle_and_absolute_age(store: Store) -> None:
    with store.sessions() as tx:
        tx.put_session(Session("idle", "a", T0, T0))
        tx.put_session(Session("old", "a", T0 - 10 * H, T0 + 5 * H))
        tx.put_session(Session("live", "a", T0, T0 + 5 * H))
    with store.sessions() as tx:
        assert tx.purge_sessions(seen_before=T0 + H, created_before=T0 - H) == 2
    with store.sessions(readonly=True) as tx:
        assert tx.get_session("live") is not None
        assert tx.get_session("idle") is None
        assert tx.get_session("old") is None


def test_rollback_and_users_and_audit(store: Store) -> None:
    with store.accounts() as tx:
        tx.put_user(User("alice", Role.ANALYST, T0, device_groups=("Servers",)))
    try:
        with store.sessions() as tx:
            tx.put_session(Session("x", "alice", T0, T0))
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with store.sessions() as tx:
        assert tx.get_session("x") is None
        user = tx.get_user("alice")
        assert user is not None and user.device_groups == ("Servers",)
        assert tx.get_user("bob") is None
        tx.append_audit([make_audit(None, action="signed in", door="Portal")])
    with store.accounts(readonly=True) as tx:
        assert tx.recent_audit(1)[0].action == "signed in"
