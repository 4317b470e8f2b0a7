"""The relay's pure parts: rate windows and bounded outboxes."""

from __future__ import annotations

import pytest

from loopsy.relay.hub import Outbox
from loopsy.relay.limits import Window


def test_window_limits_then_slides() -> None:
    now = [100.0]
    window = Window(3, 60.0, lambda: now[0])
    assert [window.hit("ip") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = window.hit("ip")
    assert wait == pytest.approx(60.0)
    assert window.hit("other") == 0.0  # per key
    now[0] += 30
    assert window.hit("ip") == pytest.approx(30.0)
    now[0] += 30.001
    assert window.hit("ip") == 0.0


def test_window_bounds_its_memory_under_a_flood_of_keys() -> None:
    now = [0.0]
    window = Window(1, 10.0, lambda: now[0], max_keys=100)
    for i in range(100):
        assert window.hit(f"k{i}") == 0.0
    assert window.hit("one-too-many") == 10.0  # refused, not stored
    now[0] += 11
    assert window.hit("after-expiry") == 0.0  # expired keys were pruned
    assert len(window._events) <= 100


@pytest.mark.anyio
async def test_outbox_bounds_per_owner_and_drops_on_revoke() -> None:
    box = Outbox()
    assert box.put(b"x" * 1000, owner=1, limit=1500)
    assert not box.put(b"y" * 600, owner=1, limit=1500)  # owner 1 is full
    assert box.put(b"z" * 600, owner=2, limit=1500)  # owner 2 is not
    assert await box.next() == b"x" * 1000
    assert box.put(b"y" * 600, owner=1, limit=1500)  # room again once sent
    box.close(4403, "revoked", flush=False)
    closing = await box.next()
    assert getattr(closing, "code", None) == 4403 and box.size == 0
