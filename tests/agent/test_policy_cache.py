from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from iocd.agent import files
from iocd.agent.policy import DigestMismatch, Policy
from iocd.agent.policy_cache import PolicyCache, delta_text
from iocd.agent.protocol import (
    EMPTY_DIGEST,
    Delta,
    digest_of,
    read_snapshot,
    write_snapshot,
)
from iocd.domain.decision import Authority, ListedIndicator
from iocd.domain.types import Action, IndicatorType
from tests.factories import value_for

TYPES = [
    IndicatorType.FILE_SHA256,
    IndicatorType.FILE_SHA1,
    IndicatorType.FILE_MD5,
    IndicatorType.IP_ADDRESS,
    IndicatorType.DOMAIN_NAME,
    IndicatorType.URL,
]


def indicator(n: int, action: Action = Action.BLOCK, **fields: object) -> ListedIndicator:
    kind = TYPES[n % len(TYPES)]
    return ListedIndicator(n, kind, value_for(kind, n), action, **fields)  # type: ignore[arg-type]


def test_digest_follows_the_protocol_text() -> None:
    entry = ListedIndicator(
        7,
        IndicatorType.FILE_SHA256,
        "ab" * 32,
        Action.BLOCK,
        frozenset({"b", "a"}),
        Authority.GROUP,
        True,
        False,
    )
    line = f"7|FileSha256|{'ab' * 32}|Block|a,b|group|1|0"
    assert digest_of([entry]) == hashlib.sha256(line.encode()).hexdigest()
    assert digest_of([]) == EMPTY_DIGEST
    other = indicator(3)
    both = int(digest_of([entry]), 16) ^ int(digest_of([other]), 16)
    assert digest_of([other, entry]) == f"{both:064x}"


def test_snapshot_round_trip() -> None:
    items = [
        indicator(n, groups=frozenset({"Laptops"}) if n % 3 else frozenset()) for n in range(50)
    ]
    assert read_snapshot(write_snapshot(items)) == items


def test_deltas_give_the_same_policy_as_a_snapshot() -> None:
    rng = random.Random(6)
    server: dict[int, ListedIndicator] = {n: indicator(n) for n in range(200)}
    policy = Policy.from_snapshot(server.values(), 1, digest_of(server.values()))
    for sequence in range(2, 40):
        changed = set()
        for _ in range(rng.randint(0, 12)):
            n = rng.randrange(260)
            changed.add(n)
            if rng.random() < 0.3 and n in server:
                del server[n]
            else:
                server[n] = indicator(n, rng.choice(list(Action)), sequence=sequence)
        upserts = [server[n] for n in sorted(changed) if n in server]
        removals = [n for n in sorted(changed) if n not in server]
        delta = Delta(sequence, digest_of(server.values()), tuple(upserts), tuple(removals))
        policy = policy.with_delta(Delta.from_wire(delta.to_wire()))
        fresh = Policy.from_snapshot(server.values(), sequence, None)
        assert policy.digest == fresh.digest
        assert sorted(policy.indicators(), key=lambda i: i.id) == sorted(
            server.values(), key=lambda i: i.id
        )
        for kind in TYPES:
            assert policy.indicators_of(kind) == [
                i for i in policy.indicators() if i.indicator_type is kind
            ]
        assert policy.sequence == sequence


def test_deltas_are_kept_as_the_json_of_their_wire_form() -> None:
    changed = indicator(4, Action.AUDIT, groups=frozenset({"b", "a"}), sequence=9)
    for delta in (Delta(9, "ab" * 32, (changed, indicator(5)), (1, 2)), Delta(3, "0" * 64, (), ())):
        assert json.loads(delta_text(delta)) == delta.to_wire()
        assert Delta.from_wire(json.loads(delta_text(delta))) == delta


def test_a_delta_with_the_wrong_digest_changes_nothing() -> None:
    items = [indicator(n) for n in range(10)]
    policy = Policy.from_snapshot(items, 5, None)
    delta = Delta(6, "0" * 64, (indicator(99),), (1,))
    with pytest.raises(DigestMismatch):
        policy.with_delta(delta)
    assert policy.sequence == 5 and policy.get(99) is None and policy.get(1) is not None


def test_hash_types_follow_the_policy() -> None:
    sha = ListedIndicator(1, IndicatorType.FILE_SHA256, "ab" * 32, Action.BLOCK)
    policy = Policy.from_snapshot([sha], 1, None)
    assert policy.hash_types == {IndicatorType.FILE_SHA256}
    md5 = ListedIndicator(2, IndicatorType.FILE_MD5, "cd" * 16, Action.AUDIT)
    following = policy.with_delta(Delta(2, digest_of([sha, md5]), (md5,), ()))
    assert following.hash_types == {IndicatorType.FILE_SHA256, IndicatorType.FILE_MD5}


def _cached(tmp_path: Path) -> tuple[PolicyCache, Policy, list[ListedIndicator]]:
    items = [indicator(n) for n in range(30)]
    cache = PolicyCache(tmp_path / "policy")
    policy = cache.save_snapshot(write_snapshot(items), 10, digest_of(items))
    assert sorted(policy.indicators(), key=lambda i: i.id) == items
    return cache, policy, items


def test_cache_keeps_snapshot_and_deltas(tmp_path: Path) -> None:
    cache, policy, items = _cached(tmp_path)
    changed = replace(items[0], action=Action.ALLOWED, sequence=11)
    after = [changed, *items[2:]]
    delta = Delta(11, digest_of(after), (changed,), (1,))
    policy = policy.with_delta(delta)
    cache.save_delta(delta, policy)
    loaded = PolicyCache(tmp_path / "policy").load()
    assert loaded is not None
    assert (loaded.sequence, loaded.digest) == (11, policy.digest)
    assert loaded.get(0) == changed and loaded.get(1) is None
    assert len(list((tmp_path / "policy").glob("*.arrow"))) == 1
    assert not [p for p in (tmp_path / "policy").iterdir() if p.name.startswith(".")]


def test_cache_compacts_many_deltas_into_a_snapshot(tmp_path: Path) -> None:
    cache, policy, items = _cached(tmp_path)
    first = next((tmp_path / "policy").glob("*.arrow"))
    current = {i.id: i for i in items}
    for sequence in range(11, 16):
        new = indicator(100 + sequence, sequence=sequence)
        current[new.id] = new
        delta = Delta(sequence, digest_of(current.values()), (new,), ())
        policy = policy.with_delta(delta)
        cache.save_delta(delta, policy)
    assert cache.pending_changes == 5
    folded = cache.compile_fold(rewrite=True)
    assert folded.snapshot is not None and folded.policy.index.overlay_size == 0
    cache.commit_fold(folded)
    assert cache.pending_changes == 0 and not first.exists()
    assert [p.name for p in (tmp_path / "policy").glob("*.arrow")] == [folded.snapshot]
    loaded = PolicyCache(tmp_path / "policy").load()
    assert loaded is not None
    assert (loaded.digest, loaded.sequence) == (digest_of(current.values()), 15)
    assert sorted(loaded.indicators(), key=lambda i: i.id) == sorted(
        current.values(), key=lambda i: i.id
    )


def test_a_compile_process_that_fails_leaves_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cached(tmp_path)
    folder = tmp_path / "policy"
    kept = sorted(folder.iterdir())
    monkeypatch.setattr(sys, "executable", "/bin/false")
    assert PolicyCache(folder).load() is None
    assert sorted(folder.iterdir()) == kept
    monkeypatch.undo()
    assert PolicyCache(folder).load() is not None


def test_loading_sweeps_what_a_crash_left(tmp_path: Path) -> None:
    _cached(tmp_path)
    folder = tmp_path / "policy"
    old = [folder / "compiled-1.npz", folder / ".download-1", folder / "snapshot-1-1.arrow"]
    young = folder / "compiled-2.npz"  # maybe another command's, being made now
    for path in [*old, young]:
        path.write_bytes(b"left")
    for path in old:
        os.utime(path, (1, 1))
    assert PolicyCache(folder).load() is not None
    assert not any(path.exists() for path in old) and young.exists()
    assert len(list(folder.glob("*.arrow"))) == 1 and (folder / "manifest.json").exists()


@pytest.mark.parametrize("damage", ["snapshot bytes", "snapshot digest", "manifest", "delta"])
def test_a_damaged_cache_is_discarded(tmp_path: Path, damage: str) -> None:
    cache, policy, items = _cached(tmp_path)
    folder = tmp_path / "policy"
    snapshot = next(folder.glob("*.arrow"))
    manifest = folder / "manifest.json"
    if damage == "snapshot bytes":
        data = bytearray(snapshot.read_bytes())
        data[len(data) // 2] ^= 0xFF
        snapshot.write_bytes(bytes(data))
    elif damage == "snapshot digest":
        manifest.write_text(manifest.read_text().replace(policy.digest, "1" * 64))
    elif damage == "manifest":
        manifest.write_bytes(b'{"snapshot": "snap')
    else:
        new = indicator(500, sequence=11)
        delta = Delta(11, digest_of([*items, new]), (new,), ())
        cache.save_delta(delta, policy.with_delta(delta))
        manifest.write_text(
            manifest.read_text().replace(new.value, value_for(new.indicator_type, 501))
        )
    assert PolicyCache(folder).load() is None
    assert list(folder.iterdir()) == []


def test_atomic_write_leaves_the_old_file_when_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "manifest.json"
    files.write_atomic(target, b"old")

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        files.write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["manifest.json"]
    assert target.stat().st_mode & 0o777 == 0o600
