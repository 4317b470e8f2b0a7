"""``client.context``: the daemon's key/value store.

    entry = await client.context.set("notes:today", "ship it", ttl=3600)
    entry = await client.context.get("notes:today")          # NotFound if absent
    page = await client.context.list(prefix="notes:")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from loopsy.client.core import parse, path
from loopsy.protocol.context import DEFAULT_PAGE, ContextEntry, ContextPage, check_key_text

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient


class ContextApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def get(self, key: str) -> ContextEntry:
        """The live entry; raises :class:`~loopsy.protocol.errors.NotFound` if absent."""
        return await self._client.get_model(_key_path(key), ContextEntry)

    async def set(
        self,
        key: str,
        value: str,
        *,
        ttl: float | None = None,
        if_absent: bool = False,
        if_version: int | None = None,
    ) -> ContextEntry:
        """Write; returns once committed. A failed condition raises ``Conflict``."""
        # Sent unvalidated: the daemon's 422 names the field, and it is the one authority.
        body: dict[str, object] = {"value": value}
        if ttl is not None:
            body["ttl"] = ttl
        if if_absent:
            body["if_absent"] = True
        if if_version is not None:
            body["if_version"] = if_version
        response = await self._client.request("PUT", _key_path(key), json_body=body)
        return parse(ContextEntry, response)

    async def delete(self, key: str, *, if_version: int | None = None) -> None:
        """Delete; raises ``NotFound`` if there was no live entry."""
        await self._client.request("DELETE", _key_path(key), params={"if_version": if_version})

    async def list(
        self, prefix: str = "", *, after: str | None = None, limit: int = DEFAULT_PAGE
    ) -> ContextPage:
        """One page of live entries in key order; ``next_after`` continues it."""
        return await self._client.get_model(
            "/context", ContextPage, params={"prefix": prefix, "after": after, "limit": limit}
        )

    async def iterate(self, prefix: str = "", *, page: int = DEFAULT_PAGE) -> AsyncIterator[
        ContextEntry
    ]:
        """Every live entry under ``prefix``, fetching a page at a time."""
        after: str | None = None
        while True:
            result = await self.list(prefix, after=after, limit=page)
            for entry in result.entries:
                yield entry
            if result.next_after is None:
                return
            after = result.next_after


def _key_path(key: str) -> str:
    check_key_text("key", key)
    return path("context", key)
