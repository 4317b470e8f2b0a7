"""``client.events``: the daemon's live events (sessions, approvals, ...).

    async for event in client.events.stream(["sessions", "approvals"]):
        print(event["type"], event["data"])

Each event is ``{"seq", "ts", "topic", "type", "data"}``; the first is
``events.subscribed``. After ``events.dropped`` (this reader fell behind), re-read lists.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from loopsy.protocol.errors import ProtocolError, api_error_from_close

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient


class EventsApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def stream(self, topics: Sequence[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Events until the daemon closes the stream or the caller stops iterating."""
        from websockets.exceptions import ConnectionClosed

        query = "?" + urlencode({"topics": ",".join(topics)}) if topics else ""
        ws = await self._client.websocket("/events" + query)
        try:
            while True:
                try:
                    text = await ws.recv()
                except ConnectionClosed as closed:
                    received = closed.rcvd
                    error = (
                        api_error_from_close(received.code, received.reason)
                        if received is not None
                        else self._client.not_running(closed)
                    )
                    if error is not None:
                        raise error from None
                    return
                try:
                    event = json.loads(text)
                except ValueError:
                    raise ProtocolError("an event that is not JSON") from None
                if isinstance(event, dict):
                    yield event
        finally:
            await ws.close()
