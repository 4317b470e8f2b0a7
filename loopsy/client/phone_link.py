"""The phone's live link to its daemon: one relay WebSocket, the KK handshake, and the
channel's streams with flow control. :mod:`loopsy.client.tunnel` builds the HTTP
transport and WebSockets of a ``Connection`` on top of it.

Opened on first use and again after a drop (relay restart, network loss, the daemon's
link going away), each time with a fresh handshake. Streams open when the link dropped
fail with ``ConnectionClosedError``; the caller resumes (sessions by offset).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    InvalidStatus,
)
from websockets.frames import Close
from websockets.typing import Subprotocol

from loopsy.client.phone import PhoneIdentity, wait_online, ws_url
from loopsy.protocol import relay as wire
from loopsy.protocol import tunnel
from loopsy.protocol.channel import MAX_PLAINTEXT, Handshake, SecureChannel
from loopsy.protocol.errors import (
    ChannelError,
    DaemonNotRunning,
    Unauthorized,
)
from loopsy.protocol.noise import private_key
from loopsy.protocol.pairing import session_prologue
from loopsy.protocol.tunnel import FlowControl, Frame, Kind

CONNECT_TIMEOUT = 30.0
MAX_OPEN_STREAMS = tunnel.MAX_STREAMS // 2


@dataclass(eq=False)
class Stream:
    ident: int
    # (kind, payload): payloads are views into the decrypted channel message, copied once
    # by whoever takes them (a WebSocket message when it is whole, a body chunk).
    inbox: deque[tuple[Kind, memoryview]] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    window: asyncio.Event = field(default_factory=asyncio.Event)
    broken: BaseException | None = None

    async def next(self) -> tuple[Kind, memoryview]:
        while not self.inbox:
            if self.broken is not None:
                raise self.broken
            self.ready.clear()
            await self.ready.wait()
        return self.inbox.popleft()


class PhoneTunnel:
    """One live relay connection + channel; :meth:`ensure` (re)connects when needed."""

    def __init__(self, identity: PhoneIdentity, reconnect_window: float = 30.0) -> None:
        self.identity = identity
        self.reconnect_window = reconnect_window
        self._ws: ClientConnection | None = None
        self._channel: SecureChannel | None = None
        self._flow = FlowControl()
        self._streams: dict[int, Stream] = {}
        self._next_id = 1
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self._stream_closed = asyncio.Event()
        # Control frames waiting for the next message out (WINDOW grants, PONG): they go
        # with whatever is sent next, or on their own at the next turn of the loop.
        self._pending: list[Frame] = []
        self._pending_task: asyncio.Task[None] | None = None
        self.connects = 0

    @property
    def connected(self) -> bool:
        return self._channel is not None

    async def ensure(self) -> None:
        """Connect if needed. While the relay is unreachable (restarting, network gone),
        retry with backoff for up to ``reconnect_window`` seconds, as a phone does."""
        async with self._lock:
            deadline = asyncio.get_running_loop().time() + self.reconnect_window
            delay = 0.1
            while self._channel is None:
                try:
                    await self._connect()
                except DaemonNotRunning:
                    if asyncio.get_running_loop().time() + delay > deadline:
                        raise
                    await asyncio.sleep(delay)
                    delay = min(2.0, delay * 2)

    async def _connect(self) -> None:
        ident = self.identity
        try:
            ws = await connect(
                ws_url(ident.relay_url, "/v1/phone/connect"),
                subprotocols=[
                    Subprotocol(p)
                    for p in wire.phone_protocols(ident.device_id, ident.relay_credential)
                ],
                compression=None,
                max_size=wire.MAX_MESSAGE,
                open_timeout=CONNECT_TIMEOUT,
                ping_interval=20,
                ping_timeout=20,
            )
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403):
                raise Unauthorized(
                    "the relay does not know this phone (revoked?)",
                    hint="pair again with `loopsy mobile pair` on the computer",
                ) from None
            raise DaemonNotRunning(
                f"the relay at {ident.relay_url} refused the connection "
                f"(HTTP {exc.response.status_code})"
            ) from None
        except (OSError, TimeoutError) as exc:
            raise DaemonNotRunning(
                f"the relay at {ident.relay_url} does not answer: {exc}"
            ) from None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await wait_online(ws)
                handshake = Handshake.session(
                    initiator=True,
                    prologue=session_prologue(ident.device_id, ident.phone_id),
                    static=private_key(ident.static_private),
                    ephemeral=private_key(secrets.token_bytes(32)),
                    remote_static=ident.daemon_public,
                )
                await ws.send(handshake.write(b""))
                reply = await ws.recv()
                if not isinstance(reply, bytes):
                    raise ChannelError("expected the daemon's handshake answer")
                handshake.read(reply)
        except ConnectionClosed as exc:
            await ws.close()
            code = exc.rcvd.code if exc.rcvd else 1006
            if code in (4401, 4403):
                raise Unauthorized(
                    f"the daemon refused this phone: {exc.rcvd.reason if exc.rcvd else ''}",
                    hint="pair again with `loopsy mobile pair` on the computer",
                ) from None
            raise DaemonNotRunning(
                f"the relay connection closed during the handshake ({code})"
            ) from None
        except TimeoutError:
            await ws.close()
            raise DaemonNotRunning("the daemon is not connected to the relay") from None
        except BaseException:
            await ws.close()
            raise
        self._ws = ws
        self._channel = handshake.channel()
        self._flow = FlowControl()
        self._pending = []
        self._next_id = 1
        self.connects += 1
        self._reader = asyncio.get_running_loop().create_task(self._read(ws, self._channel))

    async def _read(self, ws: ClientConnection, channel: SecureChannel) -> None:
        reason: BaseException = ConnectionClosedError(Close(1006, "relay connection lost"), None)
        try:
            async for message in ws:
                if isinstance(message, str):
                    control = wire.parse_control(message)
                    if control.get("type") == "device" and control.get("online") is False:
                        reason = ConnectionClosedError(Close(1001, "the daemon went offline"), None)
                        break
                    continue
                for kind, ident, payload in tunnel.split_frames(channel.open(message)):
                    self._dispatch(kind, ident, payload)
        except ConnectionClosed as exc:
            reason = ConnectionClosedError(exc.rcvd or Close(1006, "lost"), None)
        except ChannelError as exc:
            reason = ConnectionClosedError(Close(1002, str(exc)[:120]), None)
        finally:
            if self._channel is channel:
                self._channel = None
                self._ws = None
                for stream in self._streams.values():
                    stream.broken = reason
                    stream.ready.set()
                    stream.window.set()
                self._streams.clear()
                self._stream_closed.set()
            with contextlib.suppress(Exception):
                await ws.close()

    def _dispatch(self, kind: Kind, ident: int, payload: memoryview) -> None:
        if kind == Kind.WINDOW:
            self._flow.granted(ident, tunnel.decode_window(payload))
            targets = list(self._streams.values()) if ident == 0 else [self._streams.get(ident)]
            for stream in targets:
                if stream is not None:
                    stream.window.set()
            return
        if kind == Kind.PING:
            self._owe([Frame(Kind.PONG, 0, bytes(payload[:64]))])
            return
        stream = self._streams.get(ident)
        if kind in tunnel.COUNTED and (
            not self._flow.received(ident, len(payload)) or stream is None
        ):
            self.consumed(ident, len(payload))
            return
        if stream is not None:
            stream.inbox.append((kind, payload))
            stream.ready.set()

    # -- used by streams ----------------------------------------------------------------

    async def open_stream(self, head: Frame) -> Stream:
        await self.ensure()
        # Stay well under the daemon's limit: it closes a stream only once its handler has
        # returned, which can trail our own close by a moment.
        while len(self._streams) >= MAX_OPEN_STREAMS:
            self._stream_closed.clear()
            await self._stream_closed.wait()
            await self.ensure()
        ident = self._next_id
        self._next_id += 1
        self._flow.open(ident)
        stream = Stream(ident)
        self._streams[ident] = stream
        await self.send([Frame(head.kind, ident, head.payload)])
        return stream

    def close_stream(self, stream: Stream) -> None:
        self._streams.pop(stream.ident, None)
        self._flow.close(stream.ident)
        self._stream_closed.set()

    async def send(self, frames: list[Frame]) -> None:
        channel, ws = self._channel, self._ws
        if channel is None or ws is None:
            raise ConnectionClosedError(Close(1006, "not connected"), None)
        async with self._send_lock:
            # Whatever grants are owed go along: one message instead of two or three.
            owed, self._pending = self._pending, []
            plaintext = tunnel.encode_frames(owed + self._flow.owed() + frames)
            if not plaintext:
                return
            view = memoryview(plaintext)
            for start in range(0, len(plaintext), MAX_PLAINTEXT):
                await ws.send(channel.seal_after(0, view[start : start + MAX_PLAINTEXT]))

    def _owe(self, frames: list[Frame]) -> None:
        """Send ``frames`` with the next message, or by themselves at the loop's next turn."""
        self._pending.extend(frames)
        if self._pending_task is None or self._pending_task.done():
            self._pending_task = asyncio.get_running_loop().create_task(self._send_owed())

    async def _send_owed(self) -> None:
        if self._pending and self._channel is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.send([])

    async def send_counted(self, stream: Stream, kind: Kind, payload: bytes) -> None:
        while self._flow.sendable(stream.ident) < len(payload):
            if stream.broken is not None:
                raise stream.broken
            stream.window.clear()
            await stream.window.wait()
        self._flow.sent(stream.ident, len(payload))
        await self.send([Frame(kind, stream.ident, payload)])

    def consumed(self, ident: int, size: int) -> None:
        """The application took ``size`` bytes of stream ``ident``: once half a window is
        owed, grant it (with the next message out, which is usually the ACK the session
        stream sends for the same bytes)."""
        grants = self._flow.consumed(ident, size)
        if grants and self._channel is not None:
            self._owe(grants)

    async def aclose(self) -> None:
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader
