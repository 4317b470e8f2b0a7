"""``client.messages``: the agent messaging protocol (AGENTS.md) from this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopsy.client.core import path
from loopsy.protocol.messages import (
    DEFAULT_TTL,
    AckRecord,
    AckResult,
    InboxEntry,
    InboxList,
    OutboxEntry,
)

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient


class MessagesApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def send(
        self,
        to: str,
        body: Any,
        *,
        type: str = "text",
        ttl: float = DEFAULT_TTL,
        id: str | None = None,
        reply_to: str | None = None,
    ) -> OutboxEntry:
        payload = {"to": to, "type": type, "body": body, "ttl": ttl}
        if id is not None:
            payload["id"] = id
        if reply_to is not None:
            payload["reply_to"] = reply_to
        return await self._client.call_model("POST", "/messages", OutboxEntry, json_body=payload)

    async def inbox(self, *, include_acked: bool = False, limit: int = 100) -> list[InboxEntry]:
        params = {"include_acked": str(include_acked).lower(), "limit": limit}
        found = await self._client.get_model("/messages/inbox", InboxList, params=params)
        return found.messages

    async def ack(self, msg_id: str) -> AckResult:
        return await self._client.call_model(
            "POST", path("messages", "inbox", msg_id, "ack"), AckResult
        )

    async def outbox(self, msg_id: str) -> OutboxEntry:
        return await self._client.get_model(path("messages", "outbox", msg_id), OutboxEntry)

    async def last_ack(self, peer: str) -> AckRecord:
        return await self._client.get_model(path("messages", "acks", peer), AckRecord)
