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
        self._outgoing: deque[Frame] = deque()
        self._outgoing_ready = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    # -- incoming -----------------------------------------------------------------------

    def receive(self, plaintext: bytes) -> None:
        """Every tunnel frame of one channel message; raises ChannelError on a violation."""
        for frame in tunnel.decode_frames(plaintext):
            self._dispatch(frame)

    def _dispatch(self, frame: Frame) -> None:
        kind, ident = frame.kind, frame.stream
        if kind == Kind.WINDOW:
            self.flow.granted(ident, tunnel.decode_window(frame.payload))
            targets = self._streams.values() if ident == 0 else [self._streams.get(ident)]
            for stream in targets:
                if stream is not None:
                    stream.window.set()
            return
        if kind == Kind.PING:
            self._queue(Frame(Kind.PONG, 0, frame.payload[:64]))
            return
        if kind == Kind.PONG:
            return
        if kind in (Kind.HTTP_REQUEST, Kind.WS_OPEN):
            self._open(frame)
            return
        stream = self._streams.get(ident)
        counted = kind in tunnel.COUNTED
        if counted and (not self.flow.received(ident, len(frame.payload)) or stream is None):
            self._give_back(ident, len(frame.payload))
            return
        if stream is None:
            return  # late frame for a finished stream
        # Window credit goes back when the app takes the message (receive() below), so a
        # route that does not read its body holds the phone back instead of buffering.
        size = len(frame.payload)
        if kind == Kind.DATA and not stream.websocket:
            stream.inbox.append(
                ({"type": "http.request", "body": frame.payload, "more_body": True}, size)
            )
        elif kind == Kind.END and not stream.websocket:
            stream.inbox.append(({"type": "http.request", "body": b"", "more_body": False}, 0))
        elif kind == Kind.WS_MESSAGE and stream.websocket:
            message = stream.assembler.feed(frame.payload)
            if message is None:
                # A partial message cannot be consumed yet; its bytes are bounded by the
                # assembler's limit instead, so a message larger than a window still flows.
                self._give_back(ident, size)
                return
            key = "text" if isinstance(message, str) else "bytes"
            stream.inbox.append(({"type": "websocket.receive", key: message}, size))
        elif kind in (Kind.WS_CLOSE, Kind.RESET):
            code, _ = tunnel.decode_close(frame.payload)
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
            self._queue(tunnel.ResponseHead(int(message["status"]), headers).frame(ident))
        elif kind == "http.response.body":
            await self._send_counted(stream, Kind.DATA, bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self._queue(Frame(Kind.END, ident))
                stream.finished = True
        elif kind == "websocket.accept":
            stream.accepted = True
            self._queue(tunnel.accept_frame(ident, message.get("subprotocol")))
        elif kind == "websocket.send":
            text = message.get("text")
            payload = text.encode() if text is not None else bytes(message.get("bytes") or b"")
            await self._send_counted(stream, Kind.WS_MESSAGE, payload, text=text is not None)
        elif kind == "websocket.close":
            code = int(message.get("code", 1000))
            self._queue(tunnel.close_frame(Kind.WS_CLOSE, ident, code, message.get("reason") or ""))
            stream.finished = True
        elif kind == "websocket.http.response.start":
            # A refusal before accept: tell the phone as a close code, like the daemon's API.
            status = int(message["status"])
            self._queue(tunnel.close_frame(Kind.WS_CLOSE, ident, 4000 + status, "refused"))
            stream.finished = True

    async def _send_counted(
        self, stream: _Stream, kind: Kind, payload: bytes, *, text: bool = False
    ) -> None:
        if kind == Kind.WS_MESSAGE:
            message: bytes | str = payload.decode("utf-8") if text else payload
            for fragment in tunnel.message_frames(stream.ident, message):
                await self._wait_window(stream, len(fragment.payload), whole=True)
                self.flow.sent(stream.ident, len(fragment.payload))
                self._queue(fragment)
            return
        view = memoryview(payload)
        while view:
            allowed = await self._wait_window(stream, min(len(view), CHUNK), whole=False)
            piece = bytes(view[:allowed])
            view = view[allowed:]
            self.flow.sent(stream.ident, len(piece))
            self._queue(Frame(kind, stream.ident, piece))

    async def _wait_window(self, stream: _Stream, size: int, *, whole: bool) -> int:
        while True:
            if self._closed:
                raise asyncio.CancelledError
            available = self.flow.sendable(stream.ident)
            if available >= size or (available > 0 and not whole):
                return min(size, available)
            stream.window.clear()
            await stream.window.wait()

    # -- outgoing -----------------------------------------------------------------------

    def _queue(self, frame: Frame) -> None:
        self._outgoing.append(frame)
        self._outgoing_ready.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Pack queued frames into channel messages; frames queued while a send is in
        flight go out together in the next message (fewer seals, fewer relay hops)."""
        while self._outgoing and not self._closed:
            batch: list[bytes] = []
            size = 0
            while self._outgoing:
                encoded = self._outgoing[0].encode()
                if batch and size + len(encoded) > MAX_PLAINTEXT:
                    break
                batch.append(encoded)
                size += len(encoded)
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
