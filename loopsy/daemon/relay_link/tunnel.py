"""Tunnelled requests and WebSockets, dispatched into the daemon's own ASGI app.

Each stream becomes one ASGI call with ``scope["loopsy.transport"] = "relay"`` and
``scope["loopsy.caller"] = Caller("phone", phone_id)``: the same routes, auth checks, rate
limits and audit as on the unix socket or TCP. Sending waits for the phone's flow-control
window, so a phone that reads slowly holds back only its own streams (the session engine's
own flow control then pauses the PTY); other phones and the daemon link go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp

from loopsy.daemon.auth import CALLER_KEY, TRANSPORT_KEY, Caller
from loopsy.protocol import tunnel
from loopsy.protocol.channel import MAX_PLAINTEXT
from loopsy.protocol.errors import ChannelError
from loopsy.protocol.tunnel import FlowControl, Frame, Kind

log = logging.getLogger("loopsy.relay_link")

CHUNK = 64 * 1024  # body and message pieces: large enough for throughput, small for fairness
# A phone's WebSocket message to the daemon (session input is at most 64 KiB a frame).
MAX_INBOUND_MESSAGE = 1 << 20


@dataclass(eq=False)
class _Stream:
    ident: int
    websocket: bool
    inbox: deque[tuple[dict[str, Any], int]] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    window: asyncio.Event = field(default_factory=asyncio.Event)
    accepted: bool = False
    finished: bool = False  # we sent END / WS_CLOSE / RESET
    task: asyncio.Task[None] | None = None
    assembler: tunnel.MessageAssembler = field(
        default_factory=lambda: tunnel.MessageAssembler(limit=MAX_INBOUND_MESSAGE)
    )


class TunnelServer:
    """The daemon side of one phone's tunnel. ``send_plaintext`` seals and sends."""

    def __init__(
        self,
        app: ASGIApp,
        caller: Caller,
        send_plaintext: Callable[[bytes], Awaitable[None]],
    ) -> None:
        self.app = app
        self.caller = caller
        self._send_plaintext = send_plaintext
        self.flow = FlowControl()
        self._streams: dict[int, _Stream] = {}
        self._last_stream = 0
        # Frames to send, encoded: (size, parts); joined into channel messages by _flush.
        self._outgoing: deque[tuple[int, tuple[tunnel.Bytes, ...]]] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self._flushing = False  # a _flush loop runs (in the flusher task or inline)
        self._closed = False

    # -- incoming -----------------------------------------------------------------------

    def receive(self, plaintext: bytes) -> None:
        """Every tunnel frame of one channel message; raises ChannelError on a violation."""
        for kind, ident, payload in tunnel.split_frames(plaintext):
            self._dispatch(kind, ident, payload)

    def _dispatch(self, kind: Kind, ident: int, payload: memoryview) -> None:
        if kind == Kind.WINDOW:
            self.flow.granted(ident, tunnel.decode_window(payload))
            targets = self._streams.values() if ident == 0 else [self._streams.get(ident)]
            for stream in targets:
                if stream is not None:
                    stream.window.set()
            return
        if kind == Kind.PING:
            self._queue(Frame(Kind.PONG, 0, bytes(payload[:64])))
            return
        if kind == Kind.PONG:
            return
        if kind in (Kind.HTTP_REQUEST, Kind.WS_OPEN):
            self._open(Frame(kind, ident, bytes(payload)))
            return
        stream = self._streams.get(ident)
        size = len(payload)
        if kind in tunnel.COUNTED and (not self.flow.received(ident, size) or stream is None):
            self._give_back(ident, size)
            return
        if stream is None:
            return  # late frame for a finished stream
        # Window credit goes back when the app takes the message (receive() below), so a
        # route that does not read its body holds the phone back instead of buffering.
        if kind == Kind.DATA and not stream.websocket:
            stream.inbox.append(
                ({"type": "http.request", "body": bytes(payload), "more_body": True}, size)
            )
        elif kind == Kind.END and not stream.websocket:
            stream.inbox.append(({"type": "http.request", "body": b"", "more_body": False}, 0))
        elif kind == Kind.WS_MESSAGE and stream.websocket:
            message = stream.assembler.feed(payload)
            if message is None:
                # A partial message cannot be consumed yet; its bytes are bounded by the
                # assembler's limit instead, so a message larger than a window still flows.
                self._give_back(ident, size)
                return
            key = "text" if isinstance(message, str) else "bytes"
            stream.inbox.append(({"type": "websocket.receive", key: message}, size))
        elif kind in (Kind.WS_CLOSE, Kind.RESET):
            code, _ = tunnel.decode_close(payload)
            event = "websocket.disconnect" if stream.websocket else "http.disconnect"
            stream.inbox.append(({"type": event, "code": code}, 0))
            stream.finished = stream.finished or kind == Kind.RESET
        else:
            raise ChannelError(f"{kind.name} is not valid on this stream")
        stream.ready.set()

    def _give_back(self, ident: int, size: int) -> None:
        for grant in self.flow.consumed(ident, size):
            self._queue(grant)

    def _open(self, frame: Frame) -> None:
        if frame.stream <= self._last_stream:
            raise ChannelError("stream ids must increase")
        self._last_stream = frame.stream
        if self.flow.open_streams >= tunnel.MAX_STREAMS:
            # Refuse this one stream, not the connection: the phone may retry it.
            self._queue(tunnel.close_frame(Kind.RESET, frame.stream, 429, "too many streams"))
            return
        self.flow.open(frame.stream)
        websocket = frame.kind == Kind.WS_OPEN
        stream = _Stream(frame.stream, websocket)
        self._streams[frame.stream] = stream
        if websocket:
            head = tunnel.OpenHead.decode(frame.payload)
            scope = self._scope("websocket", "GET", head.path, head.headers)
            scope["subprotocols"] = head.subprotocols
            stream.inbox.append(({"type": "websocket.connect"}, 0))
        else:
            request = tunnel.RequestHead.decode(frame.payload)
            scope = self._scope("http", request.method, request.path, request.headers)
        stream.task = asyncio.get_running_loop().create_task(self._run(stream, scope))

    def _scope(
        self, kind: str, method: str, target: str, headers: tunnel.Headers
    ) -> dict[str, Any]:
        parts = urlsplit(target)
        return {
            "type": kind,
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http" if kind == "http" else "ws",
            "path": unquote(parts.path),
            "raw_path": parts.path.encode("latin-1", "replace"),
            "query_string": parts.query.encode("latin-1", "replace"),
            "root_path": "",
            "headers": [
                (n.lower().encode("latin-1", "replace"), v.encode("latin-1", "replace"))
                for n, v in headers
            ],
            "client": ("relay", 0),
            "server": ("relay", 0),
            "extensions": {},
            "state": {},
            TRANSPORT_KEY: "relay",
            CALLER_KEY: self.caller,
        }

    # -- one ASGI call per stream ---------------------------------------------------------

    async def _run(self, stream: _Stream, scope: dict[str, Any]) -> None:
        async def receive() -> dict[str, Any]:
            while not stream.inbox:
                stream.ready.clear()
                await stream.ready.wait()
            event, size = stream.inbox.popleft()
            if size:
                self._give_back(stream.ident, size)
            return event

        async def send(message: MutableMapping[str, Any]) -> None:
            await self._send_event(stream, message)
            # Sent from the app's own task when nothing else is sending: no task and no
            # loop turn per message (what a keystroke's echo waits for), and the app's
            # send waits for the link's writes, as it would on a socket.
            if self._outgoing and not self._flushing:
                await self._flush()

        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("tunnelled %s %s failed", scope["type"], scope["path"])
            if not stream.finished:
                self._queue(tunnel.close_frame(Kind.RESET, stream.ident, 500, "internal error"))
        finally:
            if not stream.finished and stream.websocket:
                self._queue(tunnel.close_frame(Kind.WS_CLOSE, stream.ident, 1000, ""))
            elif not stream.finished:
                self._queue(Frame(Kind.END, stream.ident))
            stream.finished = True
            self._streams.pop(stream.ident, None)
            self.flow.close(stream.ident)

    async def _send_event(self, stream: _Stream, message: MutableMapping[str, Any]) -> None:
        kind = message["type"]
        ident = stream.ident
        if stream.finished:
            return
        if kind == "http.response.start":
            headers = [
                (n.decode("latin-1"), v.decode("latin-1")) for n, v in message.get("headers", [])
            ]
            self._queue_frame(tunnel.ResponseHead(int(message["status"]), headers).frame(ident))
        elif kind == "http.response.body":
            await self._send_counted(stream, Kind.DATA, bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self._queue_frame(Frame(Kind.END, ident))
                stream.finished = True
        elif kind == "websocket.accept":
            stream.accepted = True
            self._queue_frame(tunnel.accept_frame(ident, message.get("subprotocol")))
        elif kind == "websocket.send":
            text = message.get("text")
            payload = text.encode() if text is not None else bytes(message.get("bytes") or b"")
            await self._send_counted(stream, Kind.WS_MESSAGE, payload, text=text is not None)
        elif kind == "websocket.close":
            code = int(message.get("code", 1000))
            self._queue_frame(
                tunnel.close_frame(Kind.WS_CLOSE, ident, code, message.get("reason") or "")
            )
            stream.finished = True
        elif kind == "websocket.http.response.start":
            # A refusal before accept: tell the phone as a close code, like the daemon's API.
            status = int(message["status"])
            self._queue_frame(tunnel.close_frame(Kind.WS_CLOSE, ident, 4000 + status, "refused"))
            stream.finished = True

    async def _send_counted(
        self, stream: _Stream, kind: Kind, payload: bytes, *, text: bool = False
    ) -> None:
        if kind == Kind.WS_MESSAGE:
            # Fragments go out as (header, view of the message): the message's bytes are
            # copied once, into the channel message that carries them.
            for head, data in tunnel.message_pieces(stream.ident, payload, text=text):
                counted = len(data) + 1  # the flag byte counts
                await self._wait_window(stream, counted, whole=True)
                self.flow.sent(stream.ident, counted)
                self._queue_parts(len(head) + len(data), (head, data))
            return
        view = memoryview(payload)
        while view:
            allowed = await self._wait_window(stream, min(len(view), CHUNK), whole=False)
            piece, view = view[:allowed], view[allowed:]
            self.flow.sent(stream.ident, allowed)
            header = tunnel.HEADER.pack(kind, stream.ident, allowed)
            self._queue_parts(len(header) + allowed, (header, piece))

    async def _wait_window(self, stream: _Stream, size: int, *, whole: bool) -> int:
        while True:
            if self._closed:
                raise asyncio.CancelledError
            available = self.flow.sendable(stream.ident)
            if available >= size or (available > 0 and not whole):
                return min(size, available)
            self._flush_soon()  # what is queued goes out while this stream waits
            stream.window.clear()
            await stream.window.wait()

    # -- outgoing -----------------------------------------------------------------------

    def _queue(self, frame: Frame) -> None:
        """Queue a frame made outside an app's send (a grant, a PONG, a stream's end): the
        flusher task sends it."""
        self._queue_frame(frame)
        self._flush_soon()

    def _queue_frame(self, frame: Frame) -> None:
        """Queue a frame from an app's send, which flushes it (see ``_run``)."""
        encoded = frame.encode()
        self._outgoing.append((len(encoded), (encoded,)))

    def _queue_parts(self, size: int, parts: tuple[tunnel.Bytes, ...]) -> None:
        self._outgoing.append((size, parts))

    def _flush_soon(self) -> None:
        idle = self._flusher is None or self._flusher.done()
        if idle and self._outgoing and not self._flushing and not self._closed:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Pack queued frames into channel messages; frames queued while a send is in
        flight go out together in the next message (fewer seals, fewer relay hops). A
        message is sealed and written without a suspension in between, so a cancelled
        flush never leaves a gap in the channel's counters."""
        self._flushing = True
        try:
            while self._outgoing and not self._closed:
                batch: list[tunnel.Bytes] = []
                size = 0
                while self._outgoing:
                    length, parts = self._outgoing[0]
                    if batch and size + length > MAX_PLAINTEXT:
                        break
                    batch.extend(parts)
                    size += length
                    self._outgoing.popleft()
                try:
                    await self._send_plaintext(b"".join(batch))
                except Exception as exc:  # the link is gone: this tunnel is over
                    log.info("tunnel send failed: %s", exc)
                    self._closed = True
                    self._outgoing.clear()
                    for stream in self._streams.values():
                        stream.window.set()
                    return
        finally:
            self._flushing = False
            # Left over when an inline flush was cancelled with its app: the task sends it.
            self._flush_soon()

    async def close(self) -> None:
        self._closed = True
        tasks = [s.task for s in self._streams.values() if s.task is not None]
        for stream in self._streams.values():
            stream.window.set()
        for task in tasks:
            task.cancel()
        if self._flusher is not None:
            self._flusher.cancel()
        if self._flusher is not None:
            tasks.append(self._flusher)
        for waiting in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await waiting
