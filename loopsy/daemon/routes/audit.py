"""``/audit``: read the audit log, and follow it live over a WebSocket.

The log says who did what on this machine, so paired peers (other machines' agents) may
not read it; the local user, API-key holders and the user's phones may.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from loopsy.daemon.audit_reader import recent
from loopsy.daemon.auth import Caller
from loopsy.daemon.endpoints import Call, describe_errors, endpoint, websocket_endpoint
from loopsy.protocol.audit import (
    AuditDroppedMessage,
    AuditPage,
    AuditQuery,
    AuditRecord,
    AuditRecordMessage,
    AuditStreamQuery,
)

if TYPE_CHECKING:
    from loopsy.daemon.services import Services

TAGS = ("audit",)
CALLERS = ("local", "key", "phone")
# Records queued for one slow tail reader before they are dropped (and counted).
QUEUE = 1000


@endpoint(
    "GET",
    "/audit",
    summary="Read the audit log",
    query=AuditQuery,
    response=AuditPage,
    callers=CALLERS,
    tags=TAGS,
)
async def read_audit(call: Call[None, AuditQuery]) -> AuditPage:
    """The newest ``limit`` records matching every filter given, oldest first, read
    across the rotated files."""
    q = call.query
    records = await anyio.to_thread.run_sync(
        recent, call.services.audit, q.matches, q.limit, q.since
    )
    return AuditPage(records=[AuditRecord.model_validate(r) for r in records])


@websocket_endpoint(
    "/audit/stream", summary="Follow the audit log live", callers=CALLERS, tags=TAGS
)
async def follow_audit(websocket: WebSocket, caller: Caller, services: Services) -> None:
    """Query: the filters of ``GET /audit`` and ``backlog`` (recent records sent first).
    Then every new matching record as ``{"type": "record", "record": {...}}``; a reader
    too slow to keep up gets ``{"type": "dropped", "count": N}`` instead of unbounded
    buffering. Bad query: close code 4422."""
    await websocket.accept()
    try:
        query = AuditStreamQuery.model_validate(dict(websocket.query_params))
    except ValidationError as exc:
        await websocket.close(code=4422, reason=f"invalid query: {describe_errors(exc)}"[:120])
        return
    send, receive = anyio.create_memory_object_stream[dict[str, Any]](QUEUE)
    dropped = 0
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()

    def enqueue(record: dict[str, Any]) -> None:
        nonlocal dropped
        if not query.matches(record):
            return
        try:
            send.send_nowait(record)
        except anyio.WouldBlock:
            dropped += 1
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    def listener(record: dict[str, Any]) -> None:
        # Records are written from the event loop, but a service may write from a thread.
        if threading.get_ident() == loop_thread:
            enqueue(record)
        else:
            loop.call_soon_threadsafe(enqueue, record)

    # Subscribe before reading the backlog, so no record falls between the two.
    unsubscribe = services.audit.subscribe(listener)
    try:
        backlog = []
        if query.backlog:
            backlog = await anyio.to_thread.run_sync(
                recent, services.audit, query.matches, query.backlog, query.since
            )
        async with anyio.create_task_group() as tg:

            async def pump() -> None:
                nonlocal dropped
                seen = {_identity(r) for r in backlog}
                for record in backlog:
                    await _send_record(websocket, record)
                async with receive:
                    async for record in receive:
                        if seen and _identity(record) in seen:
                            continue  # arrived live while the backlog was read
                        seen.clear()
                        if dropped:
                            count, dropped = dropped, 0
                            message = AuditDroppedMessage(count=count)
                            await websocket.send_text(message.model_dump_json())
                        await _send_record(websocket, record)

            async def until_closed() -> None:
                with contextlib.suppress(WebSocketDisconnect):
                    while True:
                        message = await websocket.receive()
                        if message["type"] == "websocket.disconnect":
                            break
                tg.cancel_scope.cancel()

            tg.start_soon(pump)
            tg.start_soon(until_closed)
    finally:
        unsubscribe()
        send.close()


async def _send_record(websocket: WebSocket, record: dict[str, Any]) -> None:
    message = AuditRecordMessage(record=AuditRecord.model_validate(record))
    await websocket.send_text(message.model_dump_json(exclude_none=True))


def _identity(record: dict[str, Any]) -> str:
    return repr(sorted(record.items()))


routes = [read_audit, follow_audit]
