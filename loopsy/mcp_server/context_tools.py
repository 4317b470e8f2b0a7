"""MCP tools: the shared key/value context, on this machine or a peer, and broadcast."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from loopsy.mcp_server.deps import deps, failures, tool
from loopsy.protocol.context import ContextEntry, ContextPage
from loopsy.protocol.errors import LoopsyError


class Deleted(BaseModel):
    key: str
    deleted: bool


class BroadcastResult(BaseModel):
    peer: str
    name: str
    ok: bool
    version: int | None = None
    error: str | None = None


def register(server: MCPServer[Any]) -> None:
    @tool(server)
    async def loopsy_context_set(
        key: str,
        value: str,
        ctx: Context[Any, Any],
        peer: str | None = None,
        ttl: float | None = None,
        if_absent: bool = False,
        if_version: int | None = None,
    ) -> ContextEntry:
        """Store `value` under `key` in the key/value context of this machine, or of
        `peer` (name or id). `ttl` in seconds makes it expire. `if_absent` writes only if
        the key is free; `if_version` only if the entry still has that version
        (compare-and-set, e.g. to claim a task). Keys under inbox:, outbox: and ack: belong
        to the messaging tools."""
        with failures():
            client = await deps(ctx).target(peer)
            return await client.context.set(
                key, value, ttl=ttl, if_absent=if_absent, if_version=if_version
            )

    @tool(server)
    async def loopsy_context_get(
        key: str, ctx: Context[Any, Any], peer: str | None = None
    ) -> ContextEntry:
        """Read `key` from the context of this machine or of `peer`; fails if absent."""
        with failures():
            return await (await deps(ctx).target(peer)).context.get(key)

    @tool(server)
    async def loopsy_context_list(
        ctx: Context[Any, Any],
        prefix: str = "",
        peer: str | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> ContextPage:
        """List entries whose key starts with `prefix`, in key order, on this machine or
        `peer`. Pass `next_after` from the answer as `after` for the next page."""
        with failures():
            client = await deps(ctx).target(peer)
            return await client.context.list(prefix, after=after, limit=limit)

    @tool(server)
    async def loopsy_context_delete(
        key: str,
        ctx: Context[Any, Any],
        peer: str | None = None,
        if_version: int | None = None,
    ) -> Deleted:
        """Delete `key` on this machine or `peer` (only at `if_version`, if given)."""
        with failures():
            client = await deps(ctx).target(peer)
            await client.context.delete(key, if_version=if_version)
            return Deleted(key=key, deleted=True)

    @tool(server)
    async def loopsy_broadcast_context(
        key: str, value: str, ctx: Context[Any, Any], ttl: float | None = None
    ) -> list[BroadcastResult]:
        """Write `key` = `value` to every paired peer that is online now, all at once, and
        report each peer's result (ok with the new version, or the error). Offline peers
        are listed as not written."""
        d = deps(ctx)
        with failures():
            peers = [p for p in await d.local.peers.list(refresh=True) if p.paired]
        results: dict[str, BroadcastResult] = {}

        async def write(peer_id: str, name: str) -> None:
            try:
                client = await d.target(peer_id)
                entry = await client.context.set(key, value, ttl=ttl)
                results[peer_id] = BroadcastResult(
                    peer=peer_id, name=name, ok=True, version=entry.version
                )
            except LoopsyError as exc:
                results[peer_id] = BroadcastResult(
                    peer=peer_id, name=name, ok=False, error=exc.message
                )

        async with anyio.create_task_group() as tg:
            for p in peers:
                if p.status == "online":
                    tg.start_soon(write, p.id, p.name)
                else:
                    results[p.id] = BroadcastResult(
                        peer=p.id, name=p.name, ok=False, error=f"offline: {p.last_error}"
                    )
        return [results[p.id] for p in peers]
