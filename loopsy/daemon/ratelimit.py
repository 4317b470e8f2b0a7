"""Per-caller, per-category rate limits that really limit: 429 with Retry-After.

A token bucket per (caller, category): ``limit`` requests may come at once, and the bucket
refills at ``limit`` per minute. Buckets of callers gone quiet are dropped, so a flood of
distinct callers cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from loopsy.daemon.auth import Caller
from loopsy.protocol.errors import RateLimited

MAX_BUCKETS = 10_000


class RateLimiter:
    def __init__(
        self,
        limits: Callable[[str], int | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``limits(category)`` gives requests per minute, or None for no limit."""
        self._limits = limits
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()

    def hit(self, caller: Caller, category: str) -> None:
        """Take one request from the bucket, or raise :class:`RateLimited`."""
        limit = self._limits(category)
        if limit is None:
            return
        now = self._clock()
        key = (str(caller), category)
        tokens, last = self._buckets.pop(key, (float(limit), now))
        rate = limit / 60.0
        tokens = min(float(limit), tokens + (now - last) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            retry_after = math.ceil((1.0 - tokens) / rate)
            raise RateLimited(
                f"rate limit for {category} is {limit} per minute",
                retry_after=retry_after,
                hint=f"retry in {retry_after} s, or raise rateLimits.{category} in config.yaml",
            )
        self._buckets[key] = (tokens - 1.0, now)
        while len(self._buckets) > MAX_BUCKETS:
            self._buckets.popitem(last=False)
