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

A client's window may grow past ``high`` (up to ``max_high``) when it drains fast: it
follows ``queue_seconds`` of the client's measured ACK rate, so a fast reader gets the
bytes in flight it needs to keep the pipe full, while a slow renderer or a phone (whose
rate times ``queue_seconds`` is under ``high``) keeps ``high``, and never has more than
that much of its own time queued in front of a keystroke's echo. Times are seconds from
any monotonic clock the caller owns; without times, windows stay at ``high``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from loopsy.protocol.errors import ProtocolError

DEFAULT_HIGH = 256 * 1024
DEFAULT_LOW = 64 * 1024
MIN_HIGH = 100 * 1024
QUEUE_SECONDS = 0.05  # an adaptive window holds this much of the client's drain time
SAMPLE_SECONDS = 0.02  # the ACK rate is measured over at least this long

K = TypeVar("K")


@dataclass(slots=True)
class Window:
    acked: int  # the client has rendered every byte before this
    sent: int  # every byte before this has been sent to it
    high: int  # at most this many bytes beyond ``acked`` are sent; paused at this backlog
    paused: bool = False
    sample_at: float | None = None  # when the current ACK-rate sample started
    sample_acked: int = 0  # ``acked`` then


class FlowControl(Generic[K]):
    """The windows of every attached client of one session, keyed by any hashable."""

    def __init__(
        self,
        high: int = DEFAULT_HIGH,
        low: int = DEFAULT_LOW,
        max_high: int | None = None,
        queue_seconds: float = QUEUE_SECONDS,
    ) -> None:
        if high < MIN_HIGH:
            raise ValueError(f"high water mark {high} is under {MIN_HIGH} bytes")
        if not 0 < low < high:
            raise ValueError("low water mark must be positive and under the high mark")
        self.high = high
        self.low = low
        self.max_high = high if max_high is None else max(high, max_high)
        self.queue_seconds = queue_seconds
        self.ack_every = low // 2
        self._windows: dict[K, Window] = {}

    def __contains__(self, key: K) -> bool:
        return key in self._windows

    def __len__(self) -> int:
        return len(self._windows)

    def attach(self, key: K, offset: int) -> None:
        """``key`` holds everything before ``offset`` (its resume point or a snapshot's)."""
        self._windows[key] = Window(acked=offset, sent=offset, high=self.high)

    def detach(self, key: K) -> None:
        self._windows.pop(key, None)

    def window(self, key: K) -> Window:
        return self._windows[key]

    def reset(self, key: K, offset: int) -> None:
        """``key`` was sent a snapshot taken at ``offset``: it starts over from there."""
        window = self._windows[key]
        window.acked = window.sent = offset
        window.paused = False
        window.sample_at = None

    def ack(self, key: K, offset: int, end: int, now: float | None = None) -> None:
        """Record an ACK (at time ``now``, which lets the window adapt); an ACK for bytes
        never sent is a protocol error."""
        window = self._windows[key]
        if offset > window.sent:
            raise ProtocolError(
                f"ACK of offset {offset}, but only bytes before {window.sent} were sent"
            )
        if offset > window.acked:  # an older ACK still in flight after a reset is harmless
            window.acked = offset
        if now is not None and self.max_high > self.high:
            self._measure(window, now)
        if window.paused and end - window.acked <= self.low_of(window):
            window.paused = False

    def _measure(self, window: Window, now: float) -> None:
        """Set the window to ``queue_seconds`` of the ACK rate seen since the last sample."""
        if window.sample_at is None:
            window.sample_at, window.sample_acked = now, window.acked
            return
        elapsed = now - window.sample_at
        if elapsed < SAMPLE_SECONDS:
            return
        rate = (window.acked - window.sample_acked) / elapsed
        window.high = int(min(self.max_high, max(self.high, rate * self.queue_seconds)))
        window.sample_at, window.sample_acked = now, window.acked

    def low_of(self, window: Window) -> int:
        """Where a paused window resumes: ``low``, scaled as the window grew."""
        return self.low * window.high // self.high

    def largest_high(self) -> int:
        """The largest window of any client (``high`` when none is attached)."""
        return max((w.high for w in self._windows.values()), default=self.high)

    def sendable(self, key: K, end: int) -> int:
        """How many bytes from ``window.sent`` may be sent now (0 when the window is full)."""
        window = self._windows[key]
        return max(0, min(end, window.acked + window.high) - window.sent)

    def sent(self, key: K, offset: int) -> None:
        self._windows[key].sent = offset

    def produced(self, end: int) -> None:
        """The output now ends at ``end``: pause every client whose backlog reached high."""
        for window in self._windows.values():
            if not window.paused and end - window.acked >= window.high:
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
