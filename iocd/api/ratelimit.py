"""Per-application rate limits (off unless an application has one): a token bucket per client."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """`limit` requests per minute, refilled continuously; answers how long to wait when empty."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._now = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str, limit_per_minute: int) -> int | None:
        """None if the call may go ahead (and counts it); else whole seconds to wait."""
        now = self._now()
        rate = limit_per_minute / 60.0
        with self._lock:
            tokens, at = self._buckets.get(client, (float(limit_per_minute), now))
            tokens = min(float(limit_per_minute), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return None
            self._buckets[client] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))
