"""The WebSocket attach: one client's session stream, bridged to a connection of its own
on the session's holder socket.

The holder does the stream's logic (resume or snapshot, windows, ACKs); the daemon checks
every client frame before passing it on (types, sizes, one ATTACH first) and moves output
frames through untouched: one WebSocket message per frame, no decoding on the way out.

Closing: a fatal error is an ERROR frame and then close code ``4000 + status``; a holder
that vanishes mid-stream is an EXIT frame of kind LOST and a normal close.
"""

from __future__ import annotations

import contextlib
import logging

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from loopsy.daemon.sessions.holder_spec import SOCKET_NAME
from loopsy.daemon.sessions.link import FrameConnection, HolderGone, connect
from loopsy.daemon.sessions.manager import SessionManager
from loopsy.protocol import stream
from loopsy.protocol.errors import ApiError, PayloadTooLarge, ProtocolError

log = logging.getLogger("loopsy.daemon")

ATTACH_TIMEOUT = 15.0


class StreamClosed(Exception):
    """Raised to end the bridge with a close code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def bridge(websocket: WebSocket, manager: SessionManager, ref: str) -> None:
    await websocket.accept()
    try:
        await _bridge(websocket, manager, ref)
    except StreamClosed as exc:
        await _close(websocket, exc.code, exc.message)
    except ApiError as exc:
        await _close(websocket, 4000 + exc.status, exc.message)


async def _bridge(websocket: WebSocket, manager: SessionManager, ref: str) -> None:
    row = manager.find(ref)
    with anyio.move_on_after(ATTACH_TIMEOUT) as waited:
        first = await _receive_frame(websocket)
    if waited.cancelled_caught:
        raise StreamClosed(4408, "no ATTACH frame within 15 s")
    if first is None:
        return
    request = _check(first)
    if not isinstance(request, stream.Attach):
        raise StreamClosed(4400, "the first frame must be ATTACH")
    try:
        holder = await connect(manager.home.session_dir(row.id) / SOCKET_NAME)
    except HolderGone:
        await _ended(websocket, manager, row.id)
        return
    try:
        holder.send(first)
        with manager.attaching(row.id):
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_downstream, websocket, holder)
                    await _upstream(websocket, holder)
                    tg.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                raise _first_of(group) from None
    except (WebSocketDisconnect, OSError):
        return  # the client went away mid-send
    finally:
        holder.close()


def _first_of(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one exception worth raising from a task group's group (ours first)."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    for kind in (StreamClosed, ApiError, WebSocketDisconnect, OSError):
        for exc in leaves:
            if isinstance(exc, kind):
                return exc
    return leaves[0] if leaves else group


async def _downstream(websocket: WebSocket, holder: FrameConnection) -> None:
    last_type = 0
    exited = False
    last_offset = 0
    error: stream.Error | None = None
    while (frame := await holder.recv()) is not None:
        last_type = frame[0]
        if last_type == stream.OUTPUT:
            await websocket.send_bytes(frame)
            continue
        if last_type == stream.ERROR:
            decoded = stream.decode(frame)
            assert isinstance(decoded, stream.Error)
            error = decoded
        elif last_type == stream.EXIT:
            exited = True
        elif last_type in (stream.SNAPSHOT, stream.ATTACHED):
            decoded = stream.decode(frame)
            last_offset = decoded.offset if isinstance(decoded, stream.Snapshot) else 0
        await websocket.send_bytes(frame)
    # The holder closed our connection: after a fatal error, or because it died.
    if last_type == stream.ERROR and error is not None:
        raise StreamClosed(4000 + error.code, error.message)
    if not exited:
        await websocket.send_bytes(stream.encode(stream.Exit(last_offset, stream.LOST, 0)))
    raise StreamClosed(1000, "the session ended")


async def _upstream(websocket: WebSocket, holder: FrameConnection) -> None:
    while True:
        frame = await _receive_frame(websocket)
        if frame is None:
            return
        if isinstance(_check(frame), stream.Attach):
            raise StreamClosed(4400, "already attached: ATTACH comes once, first")
        holder.send(frame)
        await holder.drain()


async def _receive_frame(websocket: WebSocket) -> bytes | None:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    data = message.get("bytes")
    if data is None:
        raise StreamClosed(4400, "the session stream is binary frames; text is not accepted")
    return bytes(data)


def _check(frame: bytes) -> stream.Frame:
    try:
        return stream.decode_client(frame)
    except PayloadTooLarge as exc:
        raise StreamClosed(4413, exc.message) from None
    except ProtocolError as exc:
        raise StreamClosed(4400, exc.message) from None


async def _ended(websocket: WebSocket, manager: SessionManager, session_id: str) -> None:
    """No holder to attach to: say how the session ended."""
    row = manager.table.get(session_id)
    if row is not None and row.state == "pending":
        raise StreamClosed(4409, "the session waits for approval (`loopsy approvals list`)")
    offset = (row.end_offset or row.start_offset) if row else 0
    if row is not None and row.exit_reason == "exited" and row.exit_code is not None:
        frame = stream.Exit(offset, stream.EXITED, row.exit_code)
    elif row is not None and row.exit_reason == "signalled" and row.exit_signal is not None:
        frame = stream.Exit(offset, stream.SIGNALLED, row.exit_signal)
    else:
        frame = stream.Exit(offset, stream.LOST, 0)
    await websocket.send_bytes(stream.encode(frame))
    await _close(websocket, 1000, "the session has ended")


async def _close(websocket: WebSocket, code: int, message: str) -> None:
    if code >= 4000:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
            await websocket.send_bytes(stream.encode(stream.Error(code - 4000, message)))
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
        await websocket.close(code=code, reason=message[:120])
