"""The daemon's connections to holders: length-prefixed frames over a unix socket, with
backpressure both ways, as an asyncio protocol (the daemon's hot path for output).

:class:`FrameConnection` moves raw frames; :class:`HolderLink` adds CONTROL requests with
replies matched by id, and EVENTs (exit, resize) for the supervisor.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from loopsy.protocol import stream
from loopsy.protocol.errors import ProtocolError, Unavailable

MAX_BUFFERED = 1 << 20  # frames received but not yet taken; beyond it, stop reading
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 15.0


class HolderGone(Unavailable):
    """The holder's socket is closed or does not answer."""


class FrameConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._splitter = stream.FrameSplitter()
        self._frames: deque[bytes] = deque()
        self._buffered = 0
        self._paused_reading = False
        self._waiter: asyncio.Future[None] | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self.closed = False
        self.error: BaseException | None = None

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._splitter.feed(data)
        except ProtocolError as exc:
            self.error = exc
            assert self.transport is not None
            self.transport.close()
            return
        if not frames:
            return
        self._frames.extend(frames)
        self._buffered += sum(len(f) for f in frames)
        if self._buffered > MAX_BUFFERED and not self._paused_reading:
            self._paused_reading = True
            assert self.transport is not None
            self.transport.pause_reading()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        self._wake()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # the API
    async def recv(self) -> bytes | None:
        """The next frame, or None once the holder closed the connection."""
        while not self._frames:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        frame = self._frames.popleft()
        self._buffered -= len(frame)
        if self._paused_reading and self._buffered <= MAX_BUFFERED // 2:
            self._paused_reading = False
            assert self.transport is not None
            self.transport.resume_reading()
        return frame

    def send(self, frame: bytes) -> None:
        if self.closed or self.transport is None:
            raise HolderGone("the session holder closed the connection")
        self.transport.writelines((stream.length_prefix(len(frame)), frame))

    async def drain(self) -> None:
        await self._writable.wait()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(path: Path) -> FrameConnection:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            _, protocol = await loop.create_unix_connection(FrameConnection, str(path))
    except (OSError, TimeoutError) as exc:
        raise HolderGone(f"the session holder does not answer ({exc})") from None
    return protocol


class HolderLink:
    """A control connection to a holder: requests with replies, and events."""

    def __init__(self, connection: FrameConnection) -> None:
        self.connection = connection
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.on_event: Callable[[dict[str, Any]], None] | None = None

    @classmethod
    async def open(cls, path: Path) -> HolderLink:
        return cls(await connect(path))

    async def serve(self) -> None:
        """Read replies and events until the holder goes away (run this in a task)."""
        try:
            while (frame := await self.connection.recv()) is not None:
                try:
                    message = stream.decode(frame)
                except ProtocolError:
                    continue
                if not isinstance(message, stream.Control):
                    continue
                if message.kind == stream.REPLY:
                    future = self._pending.pop(message.body.get("id", -1), None)
                    if future is not None and not future.done():
                        future.set_result(message.body)
                elif message.kind == stream.EVENT and self.on_event is not None:
                    self.on_event(message.body)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(HolderGone("the session holder went away"))
            self._pending.clear()

    async def request(self, op: str, limit: float = REQUEST_TIMEOUT, **fields: Any) -> Any:
        """Send a CONTROL request; return the reply, or raise the holder's refusal."""
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self.connection.send(
                stream.encode(
                    stream.Control(stream.CONTROL, {"id": request_id, "op": op, **fields})
                )
            )
            async with asyncio.timeout(limit):
                reply = await future
        except TimeoutError:
            raise HolderGone(f"the session holder did not answer {op!r}") from None
        finally:
            self._pending.pop(request_id, None)
        if not reply.get("ok"):
            from loopsy.protocol.errors import api_error_from

            status = int(reply.get("status", 500))
            raise api_error_from(status, {"error": {"code": "", "message": reply.get("error")}})
        return reply

    def close(self) -> None:
        self.connection.close()


async def one_request(path: Path, op: str, limit: float = REQUEST_TIMEOUT, **fields: Any) -> Any:
    """Open a connection, make one request, close it."""
    link = await HolderLink.open(path)
    task = asyncio.ensure_future(link.serve())
    try:
        return await link.request(op, limit=limit, **fields)
    finally:
        link.close()
        task.cancel()
