"""``client.audit``: read the daemon's audit log, or follow it live.

    page = await client.audit.recent(limit=50, min_status=400)
    async for item in client.audit.follow(backlog=10):
        ...  # AuditRecord, or AuditDroppedMessage when the reader fell behind
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from loopsy.protocol.audit import AuditDroppedMessage, AuditPage, AuditRecord
from loopsy.protocol.errors import ProtocolError

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient


class AuditApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def recent(self, *, limit: int = 100, **filters: Any) -> list[AuditRecord]:
        """The newest ``limit`` records, oldest first. Filters: ``caller``, ``method``,
        ``path`` (prefix), ``min_status``, ``event``, ``since``."""
        page = await self._client.get_model(
            "/audit", AuditPage, params={"limit": limit, **filters}
        )
        return page.records

    async def follow(
        self, *, backlog: int = 0, **filters: Any
    ) -> AsyncIterator[AuditRecord | AuditDroppedMessage]:
        """``backlog`` recent records, then each new one as it is written, until the
        daemon closes the stream (an error close raises) or the caller stops iterating."""
        query = {k: v for k, v in {"backlog": backlog, **filters}.items() if v is not None}
        async for text in self._client.websocket_messages("/audit/stream?" + urlencode(query)):
            yield _message(text)


def _message(text: bytes | str) -> AuditRecord | AuditDroppedMessage:
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("the audit stream sent something that is not JSON") from None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "record":
        return AuditRecord.model_validate(data.get("record"))
    if kind == "dropped":
        return AuditDroppedMessage.model_validate(data)
    raise ProtocolError(f"unknown audit stream message type {kind!r}")
