"""The token buckets themselves, with an injected clock: refill, no credit while refused,
and bounded memory under a flood of callers."""

from __future__ import annotations

import pytest

from loopsy.daemon.auth import Caller
from loopsy.daemon.ratelimit import MAX_BUCKETS, RateLimiter
from loopsy.protocol.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_the_limit_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(lambda category: 60, clock)
    caller = Caller("key", "api")
    for _ in range(60):
        limiter.hit(caller, "context")
    with pytest.raises(RateLimited) as info:
        limiter.hit(caller, "context")
    assert info.value.retry_after == 1
    clock.now += 1.0  # one request's worth
    limiter.hit(caller, "context")
    with pytest.raises(RateLimited):
        limiter.hit(caller, "context")
    clock.now += 3600  # a long quiet spell refills to the limit, not beyond
    for _ in range(60):
        limiter.hit(caller, "context")
    with pytest.raises(RateLimited):
        limiter.hit(caller, "context")


def test_refused_requests_do_not_earn_credit() -> None:
    clock = Clock()
    limiter = RateLimiter(lambda category: 10, clock)
    caller = Caller("peer", "p1")
    for _ in range(10):
        limiter.hit(caller, "transfer")
    for _ in range(1000):  # hammering while refused
        with pytest.raises(RateLimited):
            limiter.hit(caller, "transfer")
        clock.now += 0.001
    clock.now += 5.0  # 6 s since the bucket emptied: one token (10 per minute)
    limiter.hit(caller, "transfer")
    with pytest.raises(RateLimited):
        limiter.hit(caller, "transfer")


def test_a_flood_of_callers_keeps_memory_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(lambda category: 5, clock)
    for i in range(MAX_BUCKETS * 3):
        limiter.hit(Caller("key", f"caller-{i}"), "context")
        clock.now += 0.0001
    assert len(limiter._buckets) <= MAX_BUCKETS
    # The newest callers are the ones remembered: their buckets still limit.
    newest = Caller("key", f"caller-{MAX_BUCKETS * 3 - 1}")
    for _ in range(4):
        limiter.hit(newest, "context")
    with pytest.raises(RateLimited):
        limiter.hit(newest, "context")


def test_unlimited_category_is_not_tracked() -> None:
    limiter = RateLimiter(lambda category: None, Clock())
    for i in range(1000):
        limiter.hit(Caller("key", str(i)), "status")
    assert len(limiter._buckets) == 0
