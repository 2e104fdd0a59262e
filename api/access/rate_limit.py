"""Rate limiting: a token bucket per client, in this process's memory.

Each client (its key's client name; its address while the API runs open, and for requests
whose key was refused) has a bucket of `burst` tokens that refills at `per_s` tokens a
second; a request takes one, and without one it gets 429 with `Retry-After`. Refusing costs
no I/O and no body read, so a flood is turned away cheaply and other clients stay served.

The limit is per API process: with N processes a client may get up to N times the rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

# Buckets kept before idle ones are dropped. A bucket left alone refills to full, and a new
# bucket starts full, so dropping a full one changes nothing; this only bounds the memory that
# many addresses could take.
MAX_BUCKETS = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(
        self,
        per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.per_s = per_s
        self.burst = burst
        self._clock = clock
        self._max_buckets = max_buckets
        self._buckets: dict[str, _Bucket] = {}

    def take(self, client: str) -> float:
        """Take a token for `client`: 0 when granted, else the seconds until one is due."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_s)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.per_s

    def retry_after_s(self, wait_s: float) -> int:
        """`Retry-After` takes whole seconds: round up, so a retry at that time succeeds."""
        return max(1, math.ceil(wait_s))

    def _make_room(self, now: float) -> None:
        if len(self._buckets) < self._max_buckets:
            return
        full_after = self.burst / self.per_s
        for client in [c for c, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[client]
        # Still full (many clients at once): drop the longest-idle half of the buckets.
        if len(self._buckets) >= self._max_buckets:
            by_age = sorted(self._buckets, key=lambda c: self._buckets[c].updated)
            for client in by_age[: len(by_age) // 2]:
                del self._buckets[client]

    def __len__(self) -> int:
        return len(self._buckets)
