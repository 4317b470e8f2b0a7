"""Per-key rate limits for the relay (registrations and failed logins per IP)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class Window:
    """At most ``limit`` events per ``period`` seconds per key (a sliding log).

    Keys are dropped when their window empties, so a flood of distinct keys costs memory
    only for ``period`` seconds; ``max_keys`` caps even that.
    """

    def __init__(
        self, limit: int, period: float, clock: Callable[[], float], max_keys: int = 100_000
    ) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """0 if an event for ``key`` may happen now, else seconds to wait."""
        now = self.clock()
        events = self._events.get(key)
        if events is None:
            return 0.0
        while events and events[0] <= now - self.period:
            events.popleft()
        if not events:
            del self._events[key]
            return 0.0
        if len(events) < self.limit:
            return 0.0
        return max(0.001, events[0] + self.period - now)

    def hit(self, key: str) -> float:
        """Record an event unless limited; returns :meth:`retry_after` (0 = recorded)."""
        wait = self.retry_after(key)
        if wait:
            return wait
        if key not in self._events and len(self._events) >= self.max_keys:
            self._prune()
            if len(self._events) >= self.max_keys:
                return self.period
        self._events.setdefault(key, deque()).append(self.clock())
        return 0.0

    def _prune(self) -> None:
        for key in list(self._events):
            self.retry_after(key)
