"""Folding the overlay in the compile process (iocd.agent.sync): deltas are applied in the
agent's process as an overlay; past `fold_past` entries (or past the cache's `compact_after`
changes) the compile process folds the cache into a new index, the deltas applied meanwhile are
applied to it again, and it is swapped in only when it holds the policy in force."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iocd.agent.client import AgentClient
from iocd.agent.policy_cache import Compiled, PolicyCache
from iocd.agent.sync import PolicySync
from iocd.domain.types import Action
from tests.agent.fake_server import FakeServer, sha_indicator


def _sha(n: int, action: Action = Action.BLOCK) -> Any:
    return sha_indicator(n, f"{n:064x}", action)


@pytest.fixture
def server() -> FakeServer:
    fake = FakeServer()
    for n in range(1, 21):
        fake.put(_sha(n))
    return fake


@pytest.fixture
def sync(server: FakeServer, tmp_path: Path) -> Iterator[PolicySync]:
    client = AgentClient("http://fake", "iocd_dev_dev1_s3cret", transport=server.transport())
    synced = PolicySync(client, PolicyCache(tmp_path / "policy"), fold_past=3)
    assert synced.step(0) == "snapshot"
    yield synced
    synced.wait_folded(60)
    client.close()


def _changes(server: FakeServer, sync: PolicySync, first: int, count: int) -> None:
    """`count` changes on the server, each applied by the agent as one delta."""
    for n in range(first, first + count):
        server.put(_sha(n, Action.AUDIT))
        assert sync.step(0) == "delta"


def _matches(server: FakeServer, sync: PolicySync) -> None:
    policy = sync.policy
    assert (policy.sequence, policy.digest) == (server.sequence, server.digest)
    held = sorted(policy.indicators(), key=lambda i: i.id)
    assert held == sorted(server.indicators.values(), key=lambda i: i.id)


def test_past_fold_past_the_overlay_is_folded_into_a_new_base(
    server: FakeServer, sync: PolicySync
) -> None:
    base = sync.policy.index.base
    _changes(server, sync, 30, 3)  # new ids: three upserts, no tombstone
    assert not sync.folding and sync.policy.index.overlay_size == 3
    _changes(server, sync, 15, 1)  # an upsert and a tombstone: past fold_past
    assert sync.wait_folded(60)
    assert sync.policy.index.overlay_size == 0 and sync.policy.index.base is not base
    _matches(server, sync)
    assert not [p for p in sync.cache.folder.iterdir() if p.name.startswith("compiled-")]


def test_deltas_applied_during_a_fold_are_applied_to_it_again(
    server: FakeServer, sync: PolicySync, monkeypatch: pytest.MonkeyPatch
) -> None:
    fold = sync.cache.compile_fold

    def while_folding(rewrite: bool) -> Compiled:
        compiled = fold(rewrite)
        _changes(server, sync, 40, 2)  # arrive after the compile process read the cache
        return compiled

    monkeypatch.setattr(sync.cache, "compile_fold", while_folding)
    _changes(server, sync, 30, 4)
    assert sync.wait_folded(60)
    assert sync.policy.index.overlay_size == 2  # the two replayed on the folded base
    _matches(server, sync)


def test_the_cache_is_rewritten_past_compact_after(server: FakeServer, sync: PolicySync) -> None:
    sync.cache.compact_after = 2
    before = list(sync.cache.folder.glob("snapshot-*.arrow"))
    _changes(server, sync, 30, 3)
    assert sync.wait_folded(60)
    assert sync.cache.pending_changes == 0
    after = list(sync.cache.folder.glob("snapshot-*.arrow"))
    assert len(after) == 1 and after[0] not in before
    _matches(server, sync)
    loaded = PolicyCache(sync.cache.folder).load()
    assert loaded is not None
    assert (loaded.sequence, loaded.digest) == (server.sequence, server.digest)


def test_a_fold_made_stale_by_a_snapshot_is_dropped(
    server: FakeServer, sync: PolicySync, monkeypatch: pytest.MonkeyPatch
) -> None:
    fold = sync.cache.compile_fold

    def overtaken(rewrite: bool) -> Compiled:
        compiled = fold(rewrite)
        server.put(_sha(99))
        sync.fetch_snapshot()  # the server said snapshot-required meanwhile
        return compiled

    monkeypatch.setattr(sync.cache, "compile_fold", overtaken)
    sync.cache.compact_after = 2  # the fold writes a snapshot file too: it must not stay
    _changes(server, sync, 30, 4)
    assert sync.wait_folded(60)
    assert sync.policy.index.overlay_size == 0 and sync.policy.sequence == server.sequence
    _matches(server, sync)
    assert len(list(sync.cache.folder.glob("snapshot-*.arrow"))) == 1


def test_a_failed_fold_leaves_the_overlay_serving(
    server: FakeServer, sync: PolicySync, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the compile process cannot run
    _changes(server, sync, 30, 4)
    assert sync.wait_folded(60)
    assert sync.policy.index.overlay_size == 4
    _changes(server, sync, 40, 1)
    assert not sync.folding  # not tried again at once
    _matches(server, sync)
