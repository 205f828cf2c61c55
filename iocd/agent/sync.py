"""Policy sync: keep the enforced policy equal to the server's view of the device group.

`PolicySync.start()` loads the last good policy from the cache (verified by digest) so the agent
enforces from the first moment, even offline; `step(wait)` long-polls for changes after the
applied sequence value and applies what comes:

- `delta`: applied atomically (`Policy.with_delta` checks the resulting digest first), in this
  process and at once; a digest that does not match, or a delta that does not continue from our
  sequence, means a snapshot;
- `snapshot-required`: a snapshot is streamed to a file in the cache folder, then verified by
  its digest header and compiled by the compile process (iocd.agent.compiler);
- `unchanged`: nothing to do.

The new policy is written to the cache before it is swapped in, and `on_applied` is told (the
agent then sends a status heartbeat carrying the applied sequence value and digest).

Deltas pile up in the index's overlay. When it passes `fold_past` entries, or the cache holds
more than its `compact_after` changes as deltas, a background thread has the compile process
fold the cache (snapshot plus deltas) into one new index (and, for the cache, a new snapshot
file); the overlay keeps serving meanwhile. When the fold is ready the deltas applied since are
applied to it again, and it is swapped in if it then holds the same policy (sequence value and
digest). After each swap the memory the old policy and the load freed goes back to the system
(agent.memory).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from iocd.agent.client import AgentClient
from iocd.agent.compiler import Compiled, CompileFailed
from iocd.agent.memory import release_memory
from iocd.agent.policy import DigestMismatch, Policy
from iocd.agent.policy_cache import PolicyCache
from iocd.agent.protocol import Delta, ProtocolError
from iocd.matching.index import COMPACT_PAST

log = logging.getLogger(__name__)

RELEASE_AFTER = 1_000
"""Changes in one delta past which the agent gives freed memory back at once. Smaller deltas
free little, and a full collection plus `malloc_trim` after each would delay the next apply
(it walks the whole heap)."""
FOLD_PAST = COMPACT_PAST
"""Overlay entries (upserts plus tombstones) past which the index is folded into a new base."""
FOLD_RETRY = 60.0
"""Seconds before a fold that failed (the compile process gave no answer) is tried again."""


class PolicySync:
    def __init__(
        self,
        client: AgentClient,
        cache: PolicyCache,
        on_applied: Callable[[Policy], None] = lambda _: None,
        fold_past: int = FOLD_PAST,
    ) -> None:
        self.client = client
        self.cache = cache
        self.on_applied = on_applied
        self.fold_past = fold_past
        self._policy: Policy | None = None
        self._lock = threading.Lock()
        self._generation = 0  # a new snapshot makes a fold started before it stale
        self._folding: threading.Thread | None = None
        self._fold_after = 0.0
        self._snapshot_wanted = False

    @property
    def policy(self) -> Policy:
        """The policy in force (an empty one before the first sync)."""
        return self._policy or _EMPTY

    @property
    def loaded(self) -> bool:
        return self._policy is not None

    def start(self) -> Policy | None:
        cached = self.cache.load()
        if cached is not None:
            self._policy = cached
            log.info("policy: cached sequence %d, %d indicators", cached.sequence, len(cached))
            self._fold_when_due(cached)
        return cached

    def step(self, wait: float) -> str:
        """One exchange with the server; returns what happened (`delta`, `snapshot`,
        `unchanged`). Raises ServerUnreachable / AgentApiError from the client."""
        if self._policy is None or self._snapshot_wanted:
            self.fetch_snapshot()
            return "snapshot"
        answer = self.client.changes(self._policy.sequence, wait)
        kind = answer.get("kind")
        if kind == "unchanged":
            return "unchanged"
        if kind == "delta":
            try:
                delta = Delta.from_wire(answer)
                del answer  # its JSON objects, as large as the delta's own
                self.apply_delta(delta)
                return "delta"
            except (DigestMismatch, ProtocolError) as error:
                log.warning("policy: delta refused (%s); fetching a snapshot", error)
        self.fetch_snapshot()
        return "snapshot"

    def apply_delta(self, delta: Delta) -> Policy:
        with self._lock:
            current = self.policy
            if delta.sequence < current.sequence:
                raise ProtocolError(f"delta to {delta.sequence} is older than {current.sequence}")
            following = current.with_delta(delta)
            self.cache.save_delta(delta, following)
            self._policy = following
        del current
        if len(delta.upserts) + len(delta.removals) > RELEASE_AFTER:
            release_memory()  # a large delta's objects
        self._fold_when_due(following)
        self.on_applied(following)
        return following

    def fetch_snapshot(self) -> Policy:
        download = self.cache.download_path()
        try:
            reply = self.client.download_snapshot(download)
            compiled = self.cache.compile_snapshot(download, reply.sequence, reply.digest)
        finally:
            download.unlink(missing_ok=True)  # moved into the cache unless something failed
        following = compiled.policy
        with self._lock:
            self.cache.commit(compiled)
            self._policy = following
            self._generation += 1
            self._snapshot_wanted = False
        del compiled
        release_memory()  # the policy it replaced
        log.info("policy: snapshot at %d, %d indicators", following.sequence, len(following))
        self.on_applied(following)
        return following

    # -- folding the overlay in the compile process ------------------------------------------

    @property
    def folding(self) -> bool:
        """Whether a fold is running now."""
        return self._folding is not None and self._folding.is_alive()

    def wait_folded(self, timeout: float | None = None) -> bool:
        """Wait for a running fold to end; whether none is running afterwards."""
        thread = self._folding
        if thread is not None:
            thread.join(timeout)
        return not self.folding

    def _fold_when_due(self, policy: Policy) -> None:
        """Start a fold when the overlay or the cache's deltas are past their limits."""
        rewrite = self.cache.pending_changes > self.cache.compact_after
        if policy.index.overlay_size <= self.fold_past and not rewrite:
            return
        if self.folding or time.monotonic() < self._fold_after:
            return
        self._folding = threading.Thread(
            target=self._fold, args=(rewrite,), name="iocd-agent-fold", daemon=True
        )
        self._folding.start()

    def _fold(self, rewrite: bool) -> None:
        with self._lock:
            generation = self._generation
        try:
            compiled = self.cache.compile_fold(rewrite)
        except (DigestMismatch, ProtocolError) as error:
            if generation == self._generation:  # else: the snapshot it read was replaced
                log.error("policy: the cache does not verify (%s); fetching a snapshot", error)
                self._snapshot_wanted = True
            return
        except CompileFailed as error:
            log.warning("policy: fold failed (%s); the overlay keeps serving", error)
            self._fold_after = time.monotonic() + FOLD_RETRY
            return
        with self._lock:
            current = generation == self._generation and self.cache.is_base(compiled)
            swapped = current and self._swap_fold(compiled)
        if not swapped:
            self.cache.forget(compiled)
        del compiled
        release_memory()  # the index it replaced

    def _swap_fold(self, compiled: Compiled) -> bool:
        """Swap in a fold, with the deltas applied since it started (under the lock)."""
        current = self.policy
        folded = compiled.policy
        try:
            for delta in self.cache.since(compiled):
                folded = folded.with_delta(delta)
        except (DigestMismatch, ProtocolError) as error:
            log.warning("policy: fold dropped (%s)", error)
            return False
        if (folded.sequence, folded.digest) != (current.sequence, current.digest):
            log.warning(
                "policy: fold dropped (at %d, in force %d)", folded.sequence, current.sequence
            )
            return False
        self.cache.commit_fold(compiled)
        self._policy = folded
        log.info("policy: overlay folded at %d (%d indicators)", folded.sequence, len(folded))
        return True


_EMPTY = Policy.empty()
