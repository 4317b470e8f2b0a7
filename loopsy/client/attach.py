"""Attaching to a session: the session stream over any WebSocket the connection gives
(unix socket, TCP, or the relay tunnel), with offsets, ACKs, and resume on reconnect.

    async with client.sessions.attach("build-1", cols=120, rows=40) as stream:
        await stream.send_input(b"make\\r")
        async for frame in stream:
            match frame:
                case Snapshot(data=screen): terminal.reset(); terminal.write(screen)
                case Output(data=data): terminal.write(data)
                case Exit(): break

Each frame from iteration is considered rendered when the next one is asked for; the
stream then ACKs as the protocol needs (``auto_ack``). A dropped connection (not a close
with an error code) is re-opened with the offset held, so the iteration resumes with
exactly the missing bytes, or a snapshot if they are gone.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING

import anyio

from loopsy.client.connection import WebSocketStream
from loopsy.protocol import stream
from loopsy.protocol.attach import StreamTracker
from loopsy.protocol.errors import (
    ApiError,
    BadRequest,
    DaemonNotRunning,
    ProtocolError,
    api_error_from_close,
)

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient

log = logging.getLogger("loopsy.client")

RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 5.0)


class StreamEnded(Exception):
    """Internal: the connection closed normally."""


class Attachment:
    def __init__(
        self,
        client: LoopsyClient,
        session: str,
        *,
        offset: int | None = None,
        cols: int = 0,
        rows: int = 0,
        auto_ack: bool = True,
        reconnect: bool = True,
    ) -> None:
        self._client = client
        self.session = session
        self.tracker = StreamTracker()
        self.tracker.resume_from(offset)
        self.cols, self.rows = cols, rows
        self.auto_ack = auto_ack
        self.reconnect = reconnect
        self._ws: WebSocketStream | None = None
        self._closed = False
        self.reconnects = 0
        self.last_error: stream.Error | None = None

    # -- connection ------------------------------------------------------------------------

    async def __aenter__(self) -> Attachment:
        await self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _connect(self) -> None:
        from loopsy.client.core import path

        ws = await self._client.websocket(path("sessions", self.session) + "/attach")
        held = self.tracker.offset
        request = stream.Attach(
            offset=held or 0, cols=self.cols, rows=self.rows, fresh=held is None
        )
        await ws.send(stream.encode(request))
        self._ws = ws

    async def close(self) -> None:
        self._closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    @property
    def offset(self) -> int | None:
        """Every output byte before this offset has been received (None: nothing yet)."""
        return self.tracker.offset

    # -- receiving -------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[stream.Frame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[stream.Frame]:
        while True:
            frame = await self.recv()
            if frame is None:
                return
            yield frame

    async def recv(self) -> stream.Frame | None:
        """The next frame from the session, or None when the stream has ended."""
        if self.auto_ack:
            await self._ack_rendered()
        while not self._closed:
            try:
                message = await self._recv_message()
            except StreamEnded:
                return None
            if isinstance(message, str):
                raise ProtocolError("the session stream sent text; it is binary frames")
            frame = stream.decode(message)
            if isinstance(frame, stream.Error):
                self.last_error = frame
            self.tracker.receive(frame)
            if isinstance(frame, stream.Attached | stream.Resized | stream.Snapshot):
                self.cols, self.rows = frame.cols, frame.rows
            return frame
        return None

    async def _recv_message(self) -> bytes | str:
        from websockets.exceptions import ConnectionClosed

        attempt = 0
        while True:
            ws = self._ws
            if ws is None:
                raise StreamEnded
            try:
                return await ws.recv()
            except ConnectionClosed as closed:
                received = closed.rcvd
                if received is not None:
                    error = api_error_from_close(received.code, received.reason)
                    if error is None:
                        raise StreamEnded from None
                    if self._restarted(error):
                        self.tracker.resume_from(None)  # our offset is from before a restart
                        await self._reconnect()
                        continue
                    if error.status != 500:
                        raise error from None
                if not self.reconnect or self._closed or attempt == len(RECONNECT_DELAYS):
                    raise DaemonNotRunning(
                        "the connection to the session dropped", hint="attach again"
                    ) from None
            await anyio.sleep(RECONNECT_DELAYS[attempt])
            attempt += 1
            await self._reconnect()

    async def _reconnect(self) -> None:
        self.reconnects += 1
        try:
            await self._connect()
        except DaemonNotRunning:
            self._ws = None

    def _restarted(self, error: ApiError) -> bool:
        """The daemon refused our offset as beyond the output's end: the session was
        restarted with offsets we never saw. Attach fresh (once) instead of failing."""
        return (
            isinstance(error, BadRequest)
            and "beyond" in error.message
            and self.reconnect
            and self.tracker.offset is not None
        )

    # -- sending ---------------------------------------------------------------------------

    async def _send(self, frame: stream.Frame) -> None:
        if self._ws is None:
            raise DaemonNotRunning("not attached", hint="attach again")
        await self._ws.send(stream.encode(frame))

    async def send_input(self, data: bytes | str) -> None:
        """Type ``data``; large pastes are split into frames of at most 64 KiB."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        for start in range(0, len(raw), stream.MAX_INPUT):
            await self._send(stream.Input(raw[start : start + stream.MAX_INPUT]))

    async def resize(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        await self._send(stream.Resize(cols, rows))

    async def signal(self, name: str) -> None:
        await self._send(stream.Signal(name.upper().removeprefix("SIG")))

    async def ack(self, offset: int | None = None) -> None:
        """Acknowledge rendering up to ``offset`` (default: all received)."""
        target = self.tracker.offset if offset is None else offset
        if target is not None and target > self.tracker.acked:
            self.tracker.acked = target
            await self._send(stream.Ack(target))

    async def _ack_rendered(self) -> None:
        due = self.tracker.rendered()
        if due is not None and self._ws is not None:
            await self._send(stream.Ack(due))

    async def flush_ack(self) -> None:
        """ACK everything received (call when the stream idles, if you like)."""
        due = self.tracker.flush()
        if due is not None and self._ws is not None:
            await self._send(stream.Ack(due))
