"""The daemon's event bus: services publish what changed (a session started or exited,
an approval is waiting), and ``/api/v1/events`` streams it to the TUI and other clients.

An event is ``{"seq", "ts", "topic", "type", "data"}``; ``topic`` is the component
(``sessions``, ``approvals``, ...), ``type`` the change (``session.created``). Each
subscriber has a bounded queue: one that does not keep up loses the oldest events and is
told how many with an ``events.dropped`` event, so it knows to re-read the lists.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import anyio

DEFAULT_QUEUE = 1000


class Subscription:
    def __init__(self, bus: EventBus, topics: frozenset[str] | None, limit: int) -> None:
        self._bus = bus
        self.topics = topics
        self._queue: deque[dict[str, Any]] = deque()
        self._limit = limit
        self._dropped = 0
        self._ready = anyio.Event()

    def wants(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics

    def put(self, event: dict[str, Any]) -> None:
        if len(self._queue) >= self._limit:
            self._queue.popleft()
            self._dropped += 1
        self._queue.append(event)
        self._ready.set()

    async def next(self) -> dict[str, Any]:
        """The next event (waits for one)."""
        while not self._queue:
            self._ready = anyio.Event()
            await self._ready.wait()
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            return self._bus.make("events", "events.dropped", {"count": dropped})
        return self._queue.popleft()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seq = itertools.count(1)
        self._subscribers: list[Subscription] = []

    def make(self, topic: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "seq": next(self._seq),
            "ts": round(self._clock(), 3),
            "topic": topic,
            "type": kind,
            "data": data,
        }

    def publish(self, topic: str, kind: str, data: dict[str, Any]) -> None:
        """Hand an event to every interested subscriber; never blocks."""
        event = self.make(topic, kind, data)
        for subscriber in list(self._subscribers):
            if subscriber.wants(topic):
                subscriber.put(event)

    def subscribe(
        self, topics: Iterable[str] | None = None, limit: int = DEFAULT_QUEUE
    ) -> Subscription:
        subscription = Subscription(self, frozenset(topics) if topics else None, limit)
        self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
