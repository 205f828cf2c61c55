"""Policy sync: keep the enforced policy equal to the server's view of the device group.

`PolicySync.start()` loads the last good policy from the cache (verified by digest) so the agent
enforces from the first moment, even offline; `step(wait)` long-polls for changes after the
applied sequence value and applies what comes:

- `delta`: applied atomically (`Policy.with_delta` checks the resulting digest first); a digest
  that does not match, or a delta that does not continue from our sequence, means a snapshot;
- `snapshot-required`: a snapshot is fetched, verified by its digest header and compiled;
- `unchanged`: nothing to do.

The new policy is written to the cache before it is swapped in, and `on_applied` is told (the
agent then sends a status heartbeat carrying the applied sequence value and digest). After each
swap the memory the old policy and the load freed goes back to the system (agent.memory).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from iocd.agent.client import AgentClient
from iocd.agent.memory import release_memory
from iocd.agent.policy import DigestMismatch, Policy
from iocd.agent.policy_cache import PolicyCache
from iocd.agent.protocol import Delta, ProtocolError

log = logging.getLogger(__name__)

RELEASE_AFTER = 1_000
"""Changes in one delta past which the agent gives freed memory back at once. Smaller deltas
free little, and a full collection plus `malloc_trim` after each would delay the next apply
(it walks the whole heap)."""


class PolicySync:
    def __init__(
        self,
        client: AgentClient,
        cache: PolicyCache,
        on_applied: Callable[[Policy], None] = lambda _: None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.on_applied = on_applied
        self._policy: Policy | None = None
        self._lock = threading.Lock()

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
        return cached

    def step(self, wait: float) -> str:
        """One exchange with the server; returns what happened (`delta`, `snapshot`,
        `unchanged`). Raises ServerUnreachable / AgentApiError from the client."""
        if self._policy is None:
            self.fetch_snapshot()
            return "snapshot"
        answer = self.client.changes(self._policy.sequence, wait)
        kind = answer.get("kind")
        if kind == "unchanged":
            return "unchanged"
        if kind == "delta":
            try:
                self.apply_delta(Delta.from_wire(answer))
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
        folded = following.index.base is not current.index.base
        del current
        if folded or len(delta.upserts) + len(delta.removals) > RELEASE_AFTER:
            release_memory()  # a compaction freed the old index, or a large delta its objects
        self.on_applied(following)
        return following

    def fetch_snapshot(self) -> Policy:
        reply = self.client.snapshot()
        following = Policy.from_snapshot_bytes(reply.data, reply.sequence, reply.digest)
        with self._lock:
            self.cache.save_snapshot(reply.data, following)
            self._policy = following
        del reply
        release_memory()  # the snapshot bytes and the policy it replaced
        log.info("policy: snapshot at %d, %d indicators", following.sequence, len(following))
        self.on_applied(following)
        return following


_EMPTY = Policy.empty()
