"""Every AccountsTransaction method behaves the same on every store (memory, SQLite, PostgreSQL),
and the account services work end to end over the SQL store built by iocd.compose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from iocd.compose import build
from iocd.config import Settings
from iocd.domain.accounts import (
    Application,
    AppRole,
    DeviceGroup,
    GroupRules,
    PersonalToken,
    User,
)
from iocd.domain.history import AuditEntry
from iocd.domain.principal import Principal, PrincipalKind, Role
from iocd.services.accounts import Unauthorized
from iocd.services.credentials import HashCost
from iocd.services.ports import AccountsTransaction, Store
from iocd.store.sql import SqlStore
from tests.factories import T0, make_audit, make_fields, store_new

PLUS2 = timezone(timedelta(hours=2))
AT = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=PLUS2)
NAMES = ["b", "A", "a", "é", "Z", "東京", "a b", "a.b", "1"]
"""Natural keys whose code-point order differs from a locale's (case, accents, CJK, spaces)."""


class Boom(Exception):
    """Raised inside a transaction to make it roll back."""


def full_application(client_id: str = "app-ü-1") -> Application:
    return Application(
        client_id=client_id,
        name="Sync tool ✓ '; DROP TABLE applications; --",
        role=AppRole.READ_WRITE_ALL,
        secret_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
        created_at=AT,
        created_by="root",
        revoked_at=datetime(2030, 2, 1, tzinfo=UTC),
        rate_limit_per_minute=120,
    )


def minimal_application(client_id: str = "app-2") -> Application:
    return Application(client_id, "minimal", AppRole.READ_WRITE, "h", T0, "root")


def full_user(name: str = "Zoë") -> User:
    return User(
        name=name,
        role=Role.ANALYST,
        created_at=AT,
        display_name="Zoë Ünïcødé ✓",
        device_groups=("Berlin", "東京", "Paris Ops"),
        password_hash="$argon2id$hash",
        disabled=True,
    )


def minimal_user(name: str = "bob") -> User:
    return User(name, Role.READ_ONLY, T0)


def full_token(ident: str = "t-ü-1", user_name: str = "Zoë") -> PersonalToken:
    return PersonalToken(
        token_id=ident,
        user_name=user_name,
        name="CI script ✓",
        secret_hash="0" * 64,
        created_at=AT,
        expires_at=datetime(2031, 1, 1, 0, 0, 0, 1, tzinfo=PLUS2),
        revoked_at=datetime(2030, 6, 1, tzinfo=UTC),
    )


def minimal_token(ident: str = "t-2", user_name: str = "bob") -> PersonalToken:
    return PersonalToken(ident, user_name, "minimal", "f" * 64, T0)


def full_group(name: str = "東京 Ops", rank: int = 1) -> DeviceGroup:
    rules = GroupRules(
        names=("web-*", "db-0?"),
        domains=("corp.example", "例え.テスト"),
        tags=("tier:1", 'quote"d'),
        os=("Windows*",),
    )
    return DeviceGroup(name, rank, rules, AT, "description ✓\nsecond line")


def minimal_group(name: str = "Berlin", rank: int = 2) -> DeviceGroup:
    return DeviceGroup(name, rank, GroupRules(), T0)


def rolled_back(store: Store, work: Callable[[AccountsTransaction], None]) -> None:
    def fail() -> None:
        with store.accounts() as tx:
            work(tx)
            raise Boom

    with pytest.raises(Boom):
        fail()


def without_id(entries: list[AuditEntry]) -> list[AuditEntry]:
    return [replace(e, id=None) for e in entries]


# -- round trips ------------------------------------------------------------------------------


def test_applications_round_trip(store: Store) -> None:
    full, minimal = full_application(), minimal_application()
    with store.accounts() as tx:
        assert tx.get_application(full.client_id) is None
        tx.put_application(full)
        tx.put_application(minimal)
    with store.accounts(readonly=True) as tx:
        got = tx.get_application(full.client_id)
        assert got == full
        assert got is not None and got.created_at.utcoffset() is not None
        assert tx.get_application(minimal.client_id) == minimal
        assert tx.get_application("missing") is None
        assert tx.list_applications() == [minimal, full]


def test_users_round_trip(store: Store) -> None:
    full, minimal = full_user(), minimal_user()
    with store.accounts() as tx:
        tx.put_user(full)
        tx.put_user(minimal)
    with store.accounts(readonly=True) as tx:
        got = tx.get_user(full.name)
        assert got == full
        assert got is not None and got.device_groups == ("Berlin", "東京", "Paris Ops")
        assert tx.get_user(minimal.name) == minimal
        assert tx.get_user("zoë") is None  # names are exact, not case-folded
        assert tx.list_users() == [full, minimal]  # 'Z' < 'b' by code point


def test_tokens_round_trip(store: Store) -> None:
    full, minimal = full_token(), minimal_token()
    with store.accounts() as tx:
        tx.put_token(full)
        tx.put_token(minimal)
    with store.accounts(readonly=True) as tx:
        assert tx.get_token(full.token_id) == full
        assert tx.get_token(minimal.token_id) == minimal
        assert tx.get_token("missing") is None
        assert tx.list_tokens("Zoë") == [full]
        assert tx.list_tokens("bob") == [minimal]
        assert tx.list_tokens("nobody") == []


def test_groups_round_trip(store: Store) -> None:
    full, minimal = full_group(), minimal_group()
    with store.accounts() as tx:
        tx.put_group(full)
        tx.put_group(minimal)
    with store.accounts(readonly=True) as tx:
        got = tx.get_group(full.name)
        assert got == full
        assert got is not None and isinstance(got.rules.names, tuple) and not got.rules.empty
        empty = tx.get_group(minimal.name)
        assert empty == minimal
        assert empty is not None and empty.rules.empty
        assert tx.get_group("missing") is None
        assert tx.list_groups() == [full, minimal]


def test_nothing_stored_lists_empty(store: Store) -> None:
    with store.accounts(readonly=True) as tx:
        assert tx.list_applications() == []
        assert tx.list_users() == []
        assert tx.list_groups() == []
        assert tx.recent_audit(10) == []


# -- replace semantics and ordering -----------------------------------------------------------


def test_put_replaces_by_natural_key(store: Store) -> None:
    with store.accounts() as tx:
        tx.put_application(minimal_application("app"))
        tx.put_user(minimal_user("bob"))
        tx.put_token(minimal_token("tok", "bob"))
        tx.put_group(minimal_group("Berlin"))
    app = replace(full_application(), client_id="app")
    user = replace(full_user(), name="bob")
    token = replace(full_token(), token_id="tok", user_name="alice")
    group = replace(full_group(), name="Berlin", rank=5)
    with store.accounts() as tx:
        tx.put_application(app)
        tx.put_user(user)
        tx.put_token(token)
        tx.put_group(group)
    with store.accounts(readonly=True) as tx:
        assert tx.list_applications() == [app]
        assert tx.list_users() == [user]
        assert tx.list_tokens("bob") == []
        assert tx.list_tokens("alice") == [token]
        assert tx.list_groups() == [group]
    back = replace(app, revoked_at=None, rate_limit_per_minute=None)
    with store.accounts() as tx:
        tx.put_application(back)  # values become None again
        assert tx.get_application("app") == back


def test_listings_order_by_code_point(store: Store) -> None:
    with store.accounts() as tx:
        for n, name in enumerate(NAMES):
            tx.put_application(minimal_application(name))
            tx.put_user(minimal_user(name))
            tx.put_token(minimal_token(name, "even" if n % 2 == 0 else "odd"))
    with store.accounts(readonly=True) as tx:
        assert [a.client_id for a in tx.list_applications()] == sorted(NAMES)
        assert [u.name for u in tx.list_users()] == sorted(NAMES)
        assert [t.token_id for t in tx.list_tokens("even")] == sorted(NAMES[0::2])
        assert [t.token_id for t in tx.list_tokens("odd")] == sorted(NAMES[1::2])


def test_groups_order_by_rank_then_name(store: Store) -> None:
    ranked = [("b", 2), ("Z", 2), ("a", 1), ("東京", 3), ("A", 2), ("c", 10)]
    with store.accounts() as tx:
        for name, rank in ranked:
            tx.put_group(minimal_group(name, rank))
    with store.accounts(readonly=True) as tx:
        got = [(g.name, g.rank) for g in tx.list_groups()]
    assert got == [("a", 1), ("A", 2), ("Z", 2), ("b", 2), ("東京", 3), ("c", 10)]


def test_delete_group(store: Store) -> None:
    with store.accounts() as tx:
        tx.put_group(minimal_group("Berlin", 1))
        tx.put_group(minimal_group("Paris", 2))
    with store.accounts() as tx:
        assert tx.delete_group("Berlin") is True
        assert tx.delete_group("Berlin") is False
        assert tx.delete_group("missing") is False
    with store.accounts(readonly=True) as tx:
        assert tx.get_group("Berlin") is None
        assert [g.name for g in tx.list_groups()] == ["Paris"]


def test_settings(store: Store) -> None:
    with store.accounts() as tx:
        assert tx.get_setting("tenant_id") is None
        tx.put_setting("tenant_id", "first")
        tx.put_setting("empty", "")
        tx.put_setting("ключ", "värde ✓")
        assert tx.get_setting("tenant_id") == "first"
    with store.accounts() as tx:
        tx.put_setting("tenant_id", "second")
    with store.accounts(readonly=True) as tx:
        assert tx.get_setting("tenant_id") == "second"
        assert tx.get_setting("empty") == ""
        assert tx.get_setting("ключ") == "värde ✓"
        assert tx.get_setting("missing") is None


# -- audit ------------------------------------------------------------------------------------


def account_audit(n: int) -> AuditEntry:
    return AuditEntry(
        at=AT + timedelta(seconds=n),
        actor="root",
        door="Cli",
        action=f"user created {n}",
        indicator_id=None,
        changes={"user": f"u{n}", "role": "Analyst", "deviceGroups": ["Berlin", "東京"]},
    )


def test_recent_audit_is_newest_first_and_pages(store: Store) -> None:
    with store.accounts() as tx:
        tx.append_audit([account_audit(1), account_audit(2)])
    with store.transaction() as itx:
        store_new(itx, [make_fields(1)])  # an indicator's audit entry, between account entries
        itx.append_audit([make_audit(1)])
    with store.accounts() as tx:
        tx.append_audit([account_audit(3)])
        tx.append_audit([])
    with store.accounts(readonly=True) as tx:
        everything = tx.recent_audit(100)
        ids = [e.id for e in everything]
        assert all(isinstance(i, int) for i in ids)
        assert ids == sorted(ids, reverse=True)  # type: ignore[type-var]
        assert len(everything) == 5
        assert everything[0] == replace(account_audit(3), id=ids[0])
        assert without_id(everything[-2:]) == [account_audit(2), account_audit(1)]
        assert {e.indicator_id for e in everything[1:3]} == {1}
        assert tx.recent_audit(2) == everything[:2]
        assert tx.recent_audit(0) == []
        pages, before = [], None
        while page := tx.recent_audit(2, before_id=before):
            pages.append(page)
            before = page[-1].id
        assert [len(p) for p in pages] == [2, 2, 1]
        assert [e for p in pages for e in p] == everything
        assert tx.recent_audit(10, before_id=ids[-1]) == []
        assert tx.recent_audit(10, before_id=ids[0] + 1000) == everything  # type: ignore[operator]
    with store.transaction(readonly=True) as itx:
        assert without_id(itx.audit_for(1)) == without_id(everything[1:3][::-1])


# -- transactions -----------------------------------------------------------------------------


def test_rollback_leaves_nothing_written(store: Store) -> None:
    with store.accounts() as tx:
        tx.put_user(minimal_user("kept"))
        tx.put_setting("tenant_id", "kept")

    def write_everything(tx: AccountsTransaction) -> None:
        tx.put_application(full_application())
        tx.put_user(full_user())
        tx.put_user(replace(minimal_user("kept"), disabled=True))
        tx.put_token(full_token())
        tx.put_group(full_group())
        tx.put_setting("tenant_id", "lost")
        tx.put_setting("other", "lost")
        tx.append_audit([account_audit(1)])
        assert tx.get_user("Zoë") == full_user()  # visible inside the transaction

    rolled_back(store, write_everything)
    with store.accounts(readonly=True) as tx:
        assert tx.list_applications() == []
        assert tx.list_users() == [minimal_user("kept")]
        assert tx.list_tokens("Zoë") == []
        assert tx.list_groups() == []
        assert tx.get_setting("tenant_id") == "kept"
        assert tx.get_setting("other") is None
        assert tx.recent_audit(10) == []


def test_rolled_back_delete_keeps_the_group(store: Store) -> None:
    with store.accounts() as tx:
        tx.put_group(full_group())

    def delete(tx: AccountsTransaction) -> None:
        assert tx.delete_group(full_group().name)

    rolled_back(store, delete)
    with store.accounts(readonly=True) as tx:
        assert tx.list_groups() == [full_group()]


def test_readonly_sees_committed_data_only(store: Store) -> None:
    with store.accounts() as tx:
        tx.put_user(minimal_user("committed"))
    with store.accounts() as writer:
        writer.put_user(minimal_user("pending"))
        writer.put_setting("k", "v")
        with store.accounts(readonly=True) as reader:  # takes no write lock: does not wait
            assert [u.name for u in reader.list_users()] == ["committed"]
            assert reader.get_setting("k") is None
    with store.accounts(readonly=True) as reader:
        assert [u.name for u in reader.list_users()] == ["committed", "pending"]
        assert reader.get_setting("k") == "v"


# -- end to end over compose ------------------------------------------------------------------

ROOT = Principal("root", Role.GLOBAL_ADMINISTRATOR, "Cli")
CHEAP = HashCost(1, 8, 1)


def test_account_services_end_to_end_on_sqlite(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    instance = build(settings, hash_cost=CHEAP)
    assert isinstance(instance.store, SqlStore)
    try:
        app, secret = instance.accounts.register_application(
            "Sync tool", AppRole.READ_WRITE, ROOT, rate_limit_per_minute=60
        )
        tenant = instance.accounts.tenant_id()
        token, expires_in = instance.accounts.issue_token(tenant, app.client_id, secret)
        assert expires_in > 0
        principal, found = instance.accounts.authenticate(token, "PublicApi")
        assert found == app
        assert (principal.name, principal.kind, principal.own_only) == (
            app.client_id,
            PrincipalKind.APPLICATION,
            True,
        )
        with pytest.raises(Unauthorized):
            instance.accounts.issue_token(tenant, app.client_id, secret + "x")

        instance.accounts.create_group("Berlin", None, GroupRules(names=("web-*",)), ROOT)
        instance.accounts.create_user("alice", Role.ANALYST, ROOT, device_groups=["Berlin"])
        _, personal = instance.accounts.create_personal_token("alice", "ci", ROOT)
        user, no_app = instance.accounts.authenticate(personal, "PublicApi")
        assert (user.name, user.device_groups, no_app) == ("alice", frozenset({"Berlin"}), None)
    finally:
        instance.store.engine.dispose()

    reopened = build(settings, hash_cost=CHEAP)  # everything above was committed to disk
    assert isinstance(reopened.store, SqlStore)
    try:
        assert reopened.accounts.tenant_id() == tenant
        assert reopened.accounts.authenticate(token, "PublicApi")[1] == app
        assert reopened.accounts.list_applications(ROOT) == [app]
        with reopened.store.accounts(readonly=True) as tx:
            actions = [e.action for e in tx.recent_audit(10)]
        assert actions == [
            "personal token created",
            "user created",
            "device group created",
            "application created",
        ]
    finally:
        reopened.store.engine.dispose()
