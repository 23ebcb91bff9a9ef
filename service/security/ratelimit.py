"""Per-camera rate limit: a token bucket per camera key, so one misconfigured or hostile camera
cannot starve the others. Buckets live in each worker process; with N workers or replicas a
camera may reach N times the rate, which still bounds it (documented in the README)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill_per_second


@dataclass
class RateLimiter:
    per_minute: float
    burst: int
    clock: callable = time.monotonic
    _buckets: dict[int, TokenBucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, key: int) -> int:
        """0 when `key` may go ahead now, else whole seconds to wait (for Retry-After)."""
        if self.per_minute <= 0:
            return 0
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(self.burst, self.per_minute / 60, self.burst, now)
            wait = bucket.take(now)
        return math.ceil(wait) if wait > 0 else 0
