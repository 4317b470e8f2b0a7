"""What a holder keeps of the session's output: the ring of recent bytes (what clients
replay from), the headless emulator that follows it (what a snapshot shows), the resizes
between the two, and the optional asciinema recording.

The emulator lags the ring: the holder feeds it when its loop is idle, a slice at a time,
or ahead of need when the ring must drop bytes the emulator has not consumed; never in
front of a client's bytes.
"""

from __future__ import annotations

import time

from loopsy.daemon.sessions.holder_spec import HolderSpec
from loopsy.daemon.sessions.recording import Recorder
from loopsy.daemon.sessions.ring import Ring
from loopsy.protocol import stream
from loopsy.terminal.screen import Screen

READ_BATCH = 256 * 1024  # PTY bytes gathered before they are sent on
IDLE_FEED = 4096  # emulator bytes fed at a time when idle: ~1 ms of escape-heavy output
IDLE_SLICE = 0.001  # seconds of emulation per idle loop turn, in IDLE_FEED pieces
FORCED_FEED = 512 * 1024  # emulator bytes fed ahead when the ring must drop unfed bytes


def ring_capacity(configured: int, high: int) -> int:
    """The ring keeps at least what a client that keeps acking can be behind: its window
    (``high``: the largest in use), one PTY read past it, and the two reads past any window
    at the program's exit (when it is reaped, and when the exit grace is up). So only a
    client that stops acking (while another keeps the PTY read) falls off the ring."""
    return max(configured, high + 3 * READ_BATCH)


class Output:
    def __init__(self, spec: HolderSpec) -> None:
        self.configured = spec.ring_bytes
        self.ring = Ring(ring_capacity(spec.ring_bytes, spec.high), start=spec.start_offset)
        self.screen = Screen(spec.cols, spec.rows, scrollback=spec.scrollback)
        self.fed = spec.start_offset  # the emulator has consumed output before this
        self.markers: list[tuple[int, int, int]] = []  # (offset, cols, rows) resizes to feed
        self.recorder = (
            Recorder(
                spec.directory, spec.cols, spec.rows, max_bytes=spec.record_max, title=spec.name
            )
            if spec.record
            else None
        )

    def append(self, data: bytes) -> None:
        self.ring.append(data)
        if self.recorder is not None:
            self.recorder.output(data)

    def resized(self, cols: int, rows: int) -> None:
        """The PTY took a new size here: the emulator follows when it reaches this offset."""
        self.markers.append((self.ring.end, cols, rows))
        if self.recorder is not None:
            self.recorder.resize(cols, rows)

    def idle(self) -> None:
        """The loop has nothing else to do: catch the emulator up, flush the recording."""
        if self.fed < self.ring.end:
            self._feed_slice()
        if self.recorder is not None and self.fed >= self.ring.end:
            self.recorder.flush()  # a no-op unless something was written

    def _feed_slice(self) -> None:
        """Catch the emulator up for about IDLE_SLICE: plain text goes by the 100 KB (in
        growing pieces), an escape-heavy repaint by the few KB, and an event waits at most
        about that long."""
        deadline = time.monotonic() + IDLE_SLICE
        piece = IDLE_FEED
        while self.fed < self.ring.end:
            self.feed(min(self.ring.end, self.fed + piece))
            if time.monotonic() >= deadline:
                return
            piece = min(2 * piece, READ_BATCH)  # fast going: bigger pieces, fewer cut lines

    def feed(self, upto: int) -> None:
        """Bring the emulator up to ``upto``, applying resizes where they happened."""
        while True:
            while self.markers and self.markers[0][0] <= self.fed:
                _, cols, rows = self.markers.pop(0)
                self.screen.resize(cols, rows)
            if self.fed >= upto:
                return
            stop = upto if not self.markers else min(upto, self.markers[0][0])
            data = self.ring.read(self.fed, stop - self.fed)
            self.screen.feed(data)
            self.fed += len(data)

    @property
    def screen_offset(self) -> int:
        """The screen shows the output before this offset: the bytes fed, less an escape
        sequence or UTF-8 character cut at the end of the feed (held in the emulator)."""
        return self.fed - self.screen.unapplied

    def snapshot(self, cols: int, rows: int) -> tuple[int, bytes]:
        """A SNAPSHOT frame of the whole output so far, and the offset it resumes at: the
        client gets the bytes the screen has not applied yet as OUTPUT after it."""
        self.feed(self.ring.end)
        offset = self.screen_offset
        frame = stream.Snapshot(offset, cols, rows, self.screen.snapshot())
        return offset, stream.encode(frame)

    def fit(self, largest_window: int) -> bool:
        """Size the ring for the attached clients' windows (they grow for fast readers) and
        drop what it holds beyond that, feeding the emulator first; True if it dropped."""
        self.ring.capacity = ring_capacity(self.configured, largest_window)
        if not self.ring.over_capacity():
            return False
        # Feed FORCED_FEED more than needed so forced feeding happens rarely and in bulk.
        self.feed(max(self.fed, self.ring.end - self.ring.capacity + FORCED_FEED))
        self.ring.trim(keep_from=self.screen_offset)
        return True

    def close(self) -> None:
        """The program's output is complete: the emulator takes the rest, the recording ends."""
        self.feed(self.ring.end)
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
