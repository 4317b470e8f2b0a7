"""Flow control for a session's output, sans I/O: per-client windows with high and low
water marks, and the resize debouncer.

Each attached client acknowledges the offset it has rendered. The server sends a client
at most ``high`` bytes beyond its last ACK. A client whose backlog (output produced but
not acknowledged) reaches ``high`` is *paused* until the backlog falls to ``low``. The
session's PTY is read while some client is not paused, or while none is attached, so:

- a fast client is never stalled by a slow one: the PTY keeps being read for it, and the
  slow one falls behind the ring and later resumes from a snapshot;
- a lone slow client pauses the program (the PTY's own buffer fills, the program blocks
  on write), so nothing grows without bound;
- ``high`` is at least 100 KB, so an agent's full repaint (~80 KB) is never split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from loopsy.protocol.errors import ProtocolError

DEFAULT_HIGH = 256 * 1024
DEFAULT_LOW = 64 * 1024
MIN_HIGH = 100 * 1024

K = TypeVar("K")


@dataclass(slots=True)
class Window:
    acked: int  # the client has rendered every byte before this
    sent: int  # every byte before this has been sent to it
    paused: bool = False


class FlowControl(Generic[K]):
    """The windows of every attached client of one session, keyed by any hashable."""

    def __init__(self, high: int = DEFAULT_HIGH, low: int = DEFAULT_LOW) -> None:
        if high < MIN_HIGH:
            raise ValueError(f"high water mark {high} is under {MIN_HIGH} bytes")
        if not 0 < low < high:
            raise ValueError("low water mark must be positive and under the high mark")
        self.high = high
        self.low = low
        self.ack_every = low // 2
        self._windows: dict[K, Window] = {}

    def __contains__(self, key: K) -> bool:
        return key in self._windows

    def __len__(self) -> int:
        return len(self._windows)

    def attach(self, key: K, offset: int) -> None:
        """``key`` holds everything before ``offset`` (its resume point or a snapshot's)."""
        self._windows[key] = Window(acked=offset, sent=offset)

    def detach(self, key: K) -> None:
        self._windows.pop(key, None)

    def window(self, key: K) -> Window:
        return self._windows[key]

    def reset(self, key: K, offset: int) -> None:
        """``key`` was sent a snapshot taken at ``offset``: it starts over from there."""
        window = self._windows[key]
        window.acked = window.sent = offset
        window.paused = False

    def ack(self, key: K, offset: int, end: int) -> None:
        """Record an ACK; an ACK for bytes never sent is a protocol error."""
        window = self._windows[key]
        if offset > window.sent:
            raise ProtocolError(
                f"ACK of offset {offset}, but only bytes before {window.sent} were sent"
            )
        if offset > window.acked:  # an older ACK still in flight after a reset is harmless
            window.acked = offset
        if window.paused and end - window.acked <= self.low:
            window.paused = False

    def sendable(self, key: K, end: int) -> int:
        """How many bytes from ``window.sent`` may be sent now (0 when the window is full)."""
        window = self._windows[key]
        return max(0, min(end, window.acked + self.high) - window.sent)

    def sent(self, key: K, offset: int) -> None:
        self._windows[key].sent = offset

    def produced(self, end: int) -> None:
        """The output now ends at ``end``: pause every client whose backlog reached high."""
        for window in self._windows.values():
            if not window.paused and end - window.acked >= self.high:
                window.paused = True

    def reading_allowed(self) -> bool:
        """Read the PTY? Yes while no client is attached or some client is not paused."""
        if not self._windows:
            return True
        return any(not w.paused for w in self._windows.values())


class ResizeDebouncer:
    """Coalesces resize storms: the first size after a quiet spell applies at once; sizes
    arriving within ``interval`` of the last applied one wait, and only the newest applies
    when the interval ends. Memory: one pending size, whatever the rate.

    Times are seconds from any monotonic clock the caller owns.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._last_applied = float("-inf")
        self._pending: tuple[int, int] | None = None

    def request(self, cols: int, rows: int, now: float) -> tuple[int, int] | None:
        """A new size; returns it if it should apply now, else keeps it for :meth:`due`."""
        if now - self._last_applied >= self.interval:
            self._pending = None
            self._last_applied = now
            return (cols, rows)
        self._pending = (cols, rows)
        return None

    def applied(self, now: float) -> None:
        """A size was applied out of band (an attaching client's): drop any pending one."""
        self._pending = None
        self._last_applied = now

    @property
    def deadline(self) -> float | None:
        """When :meth:`due` will release the pending size, or None if none waits."""
        return self._last_applied + self.interval if self._pending is not None else None

    def due(self, now: float) -> tuple[int, int] | None:
        """The pending size, once its interval has passed."""
        if self._pending is None or now - self._last_applied < self.interval:
            return None
        size, self._pending = self._pending, None
        self._last_applied = now
        return size
