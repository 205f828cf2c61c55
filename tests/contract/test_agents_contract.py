"""Agents, enrolment tokens, report batches and the policy rows behave the same on every store
(memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from iocd.domain.agents import AgentDevice, EnrollmentToken
from iocd.domain.types import Action, IndicatorState, IndicatorType
from iocd.matching.snapshot import batch_listed, entry_hash, xor_digest
from iocd.services.index_keeper import listed
from iocd.services.ports import Store
from tests.factories import T0, make_audit, make_fields, store_new

H = timedelta(hours=1)


def make_token(token_id: str = "t1", **overrides: object) -> EnrollmentToken:  # noqa: S107
    base = EnrollmentToken(token_id, "h" * 64, T0, "root", T0 + H, 3, 0, "Servers")
    return replace(base, **overrides)  # type: ignore[arg-type]


def make_agent(device_id: str = "d1", **overrides: object) -> AgentDevice:
    base = AgentDevice(
        device_id=device_id,
        hostname="web-1",
        os="Linux",
        domain="corp.example",
        tags=("prod", "web"),
        group="Servers",
        group_bound=True,
        credential_hash="c" * 64,
        enrolled_at=T0,
        last_contact=T0,
        token_id="t1",
        agent_version="1.0",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_tokens_put_get_list_replace(store: Store) -> None:
    with store.agents() as tx:
        tx.put_enrollment_token(make_token("b"))
        tx.put_enrollment_token(make_token("a", max_uses=None, group=None))
    with store.agents(readonly=True) as tx:
        assert [t.token_id for t in tx.list_enrollment_tokens()] == ["a", "b"]
        assert tx.get_enrollment_token("a") == make_token("a", max_uses=None, group=None)
        assert tx.get_enrollment_token("zz") is None
    used = make_token("b", uses=2, revoked_at=T0 + H)
    with store.agents() as tx:
        tx.put_enrollment_token(used)
    with store.agents(readonly=True) as tx:
        assert tx.get_enrollment_token("b") == used


def test_agents_put_get_list_and_rollback(store: Store) -> None:
    with store.agents() as tx:
        tx.put_agent(make_agent("d2"))
        tx.put_agent(make_agent("d1", tags=(), group_bound=False))
    updated = make_agent(
        "d2",
        last_contact=T0 + H,
        applied_sequence=12,
        applied_digest="ab" * 32,
        file_enforcement="alert-only",
        network_enforcement="nftables",
    )
    try:
        with store.agents() as tx:
            tx.put_agent(updated)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with store.agents(readonly=True) as tx:
        assert tx.get_agent("d2") == make_agent("d2")
    with store.agents() as tx:
        tx.put_agent(updated)
        tx.append_audit([make_audit(None, action="agent enrolled", door="Agent")])
    with store.agents(readonly=True) as tx:
        assert [a.device_id for a in tx.list_agents()] == ["d1", "d2"]
        assert tx.get_agent("d2") == updated
        assert tx.get_agent("d1") == make_agent("d1", tags=(), group_bound=False)
        assert tx.get_agent("nope") is None


def test_report_batches_are_remembered_per_device(store: Store) -> None:
    with store.agents() as tx:
        assert not tx.report_seen("d1", "b1")
        assert tx.add_report("d1", "b1", T0)
        assert not tx.add_report("d1", "b1", T0 + H)
        assert tx.add_report("d2", "b1", T0)
    with store.agents(readonly=True) as tx:
        assert tx.report_seen("d1", "b1") and tx.report_seen("d2", "b1")
        assert not tx.report_seen("d1", "b2")


def test_old_report_batches_are_forgotten(store: Store) -> None:
    with store.agents() as tx:
        tx.add_report("d1", "old", T0)
        tx.add_report("d1", "new", T0 + 2 * H)
    with store.agents() as tx:
        assert tx.purge_reports(T0 + H) == 1
    with store.agents(readonly=True) as tx:
        assert not tx.report_seen("d1", "old")
        assert tx.report_seen("d1", "new")


def test_policy_rows_hold_the_stored_active_indicators_in_id_order(store: Store) -> None:
    with store.transaction() as tx:
        made = store_new(
            tx,
            [
                make_fields(1),
                make_fields(2, IndicatorType.FILE_SHA256, rbac_group_names=("Lab", "Servers")),
                make_fields(3, IndicatorType.DOMAIN_NAME, action=Action.AUDIT, generate_alert=True),
                make_fields(4, IndicatorType.URL),
            ],
        )
        gone = replace(made[3], state=IndicatorState.DELETED, sequence=5)
        tx.allocate_sequence(1)
        tx.update([gone])
        override = replace(made[0], override_justification="lab range", sequence=6)
        tx.allocate_sequence(1)
        tx.update([override])
    items = list(store.policy_rows(batch=2))
    assert {sequence for sequence, _ in items} == {6}
    rows = [entry for _, batch in items for entry in batch_listed(batch)]
    expected = [listed(override), listed(made[1]), listed(made[2])]
    assert rows == expected
    assert rows[0].overridden and rows[1].groups == frozenset({"Lab", "Servers"})
    hashes = b"".join(entry_hash(e) for e in rows)
    assert xor_digest(hashes) == xor_digest(entry_hash(e) for e in expected)


def test_policy_rows_of_an_empty_store(store: Store) -> None:
    items = list(store.policy_rows())
    assert len(items) == 1 and items[0][0] == 0 and items[0][1].num_rows == 0


def test_expiries_hold_the_stored_active_indicators_that_expire(store: Store) -> None:
    with store.transaction() as tx:
        made = store_new(
            tx,
            [
                make_fields(1, expiration_time=T0 + timedelta(days=2)),
                make_fields(2),
                make_fields(3, expiration_time=T0 + timedelta(days=1)),
            ],
        )
        tx.allocate_sequence(1)
        tx.update([replace(made[2], state=IndicatorState.DELETED, sequence=4)])
    ids, times = store.expiries()
    assert ids.tolist() == [made[0].id]
    assert times.tolist() == [(T0 + timedelta(days=2)).timestamp()]
