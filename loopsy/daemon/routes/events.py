"""``/events``: a WebSocket of what changes in the daemon (sessions, approvals, ...), one
JSON text message per event. ``?topics=sessions,approvals`` narrows it."""

from __future__ import annotations

import contextlib
import json

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from loopsy.daemon.auth import Caller
from loopsy.daemon.endpoints import websocket_endpoint
from loopsy.daemon.services import Services

MAX_TOPICS = 32


@websocket_endpoint("/events", summary="Stream daemon events", tags=("events",))
async def events(websocket: WebSocket, caller: Caller, services: Services) -> None:
    """Each message: ``{"seq", "ts", "topic", "type", "data"}``. A first message of type
    ``events.subscribed`` confirms the topics; ``events.dropped`` says events were lost
    because this client fell behind (re-read the lists)."""
    raw = websocket.query_params.get("topics", "")
    topics = [t for t in raw.split(",") if t][:MAX_TOPICS] or None
    await websocket.accept()
    with services.events.subscribe(topics) as subscription:
        hello = services.events.make("events", "events.subscribed", {"topics": topics})
        await websocket.send_text(json.dumps(hello))
        async with anyio.create_task_group() as tg:

            async def forward() -> None:
                with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
                    while True:
                        event = await subscription.next()
                        await websocket.send_text(json.dumps(event, separators=(",", ":")))
                tg.cancel_scope.cancel()

            tg.start_soon(forward)
            with contextlib.suppress(WebSocketDisconnect):
                while True:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        break
            tg.cancel_scope.cancel()


routes = [events]
