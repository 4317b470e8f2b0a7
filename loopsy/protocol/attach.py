"""Attaching to a session, sans I/O: what the server sends an attaching client, and the
client's side of the stream (offsets, gaps, when to ACK).

The rule: a client that says "I hold everything before offset N" gets exactly the bytes
from N while they are still in the ring; otherwise it gets a snapshot of the screen and
the live stream from the snapshot's offset. Never a raw tail that starts mid-escape.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopsy.protocol.errors import ProtocolError
from loopsy.protocol.stream import Attached, Exit, Frame, Output, Snapshot


@dataclass(frozen=True, slots=True)
class Replay:
    """Send the ring's bytes from ``offset`` on."""

    offset: int


@dataclass(frozen=True, slots=True)
class SendSnapshot:
    """The client's bytes are gone from the ring (or it holds none): send the screen."""


def plan_attach(offset: int, fresh: bool, start: int, end: int) -> Replay | SendSnapshot:
    """Decide how to bring a client holding output before ``offset`` up to date.

    ``start``/``end``: the oldest offset in the ring and the next offset to be produced.
    """
    if fresh:
        return SendSnapshot()
    if offset > end:
        raise ProtocolError(
            f"ATTACH at offset {offset} is beyond the end of the output ({end}); "
            "attach with the last offset you received, or fresh"
        )
    if offset < start:
        return SendSnapshot()
    return Replay(offset)


class StreamTracker:
    """The client's bookkeeping: the next offset it expects, and when to ACK.

    Feed it each server frame with :meth:`receive`; after rendering, call
    :meth:`rendered` and send an ACK when it returns an offset.
    """

    def __init__(self) -> None:
        self.offset: int | None = None  # next expected output offset; None before attach
        self.acked = 0
        self.ack_every = 32 * 1024
        self.exit: Exit | None = None
        self.cols = 0
        self.rows = 0

    def receive(self, frame: Frame) -> None:
        """Check a frame against what came before; raise :class:`ProtocolError` on a gap."""
        if isinstance(frame, Attached):
            self.ack_every = max(1, frame.ack_every)
            self.cols, self.rows = frame.cols, frame.rows
        elif isinstance(frame, Snapshot):
            self.offset = self.acked = frame.offset
            self.cols, self.rows = frame.cols, frame.rows
        elif isinstance(frame, Output):
            if self.offset is not None and frame.offset != self.offset:
                raise ProtocolError(
                    f"output at offset {frame.offset}, expected {self.offset}: bytes were lost"
                )
            if self.offset is None:
                self.acked = frame.offset
            self.offset = frame.offset + len(frame.data)
        elif isinstance(frame, Exit):
            self.exit = frame

    def resume_from(self, offset: int | None) -> None:
        """Start (or restart after a reconnect) holding everything before ``offset``."""
        self.offset = offset
        if offset is not None:
            self.acked = offset

    def rendered(self, offset: int | None = None) -> int | None:
        """The client rendered up to ``offset`` (default: all received); returns the offset
        to ACK now, or None while fewer than ``ack_every`` bytes await an ACK."""
        done = self.offset if offset is None else offset
        if done is None or done - self.acked < self.ack_every:
            return None
        self.acked = done
        return done

    def flush(self) -> int | None:
        """ACK whatever is rendered and not yet acknowledged (e.g. when the stream idles)."""
        if self.offset is None or self.offset <= self.acked:
            return None
        self.acked = self.offset
        return self.offset
