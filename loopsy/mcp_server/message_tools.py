"""MCP tools: the agent messaging protocol of AGENTS.md."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from loopsy.mcp_server.deps import deps, failures, tool
from loopsy.protocol.messages import DEFAULT_TTL, AckRecord, AckResult, InboxEntry, OutboxEntry


class AckStatus(BaseModel):
    message: OutboxEntry | None = None
    last_ack: AckRecord | None = None


def register(server: MCPServer[Any]) -> None:
    @tool(server)
    async def loopsy_send_message(
        peer: str,
        body: Any,
        ctx: Context[Any, Any],
        type: str = "text",
        ttl: float = DEFAULT_TTL,
        id: str | None = None,
        reply_to: str | None = None,
    ) -> OutboxEntry:
        """Send a message to `peer` (name or id; "self" for this machine) following the
        AGENTS.md protocol: an envelope (id, from, to, ts, type, body, ttl) stored in the
        peer's inbox and in this machine's outbox. `from` is set by the daemons. `type` is
        e.g. text, task, result. Give your own `id` to make a retry harmless. The answer's
        `state` is delivered, or pending when the peer is unreachable (retried until the TTL
        ends)."""
        with failures():
            return await deps(ctx).local.messages.send(
                peer, body, type=type, ttl=ttl, id=id, reply_to=reply_to
            )

    @tool(server)
    async def loopsy_check_inbox(
        ctx: Context[Any, Any], include_acked: bool = False, limit: int = 100
    ) -> list[InboxEntry]:
        """Messages addressed to this machine, oldest first (unacknowledged only unless
        `include_acked`). Poll every 5-30 s while waiting; acknowledge each message with
        loopsy_ack_message once you have acted on it."""
        with failures():
            return await deps(ctx).local.messages.inbox(include_acked=include_acked, limit=limit)

    @tool(server)
    async def loopsy_ack_message(message_id: str, ctx: Context[Any, Any]) -> AckResult:
        """Acknowledge a message in this machine's inbox: marks it processed and tells the
        sender (its ack:<this machine> key and the message's outbox state)."""
        with failures():
            return await deps(ctx).local.messages.ack(message_id)

    @tool(server)
    async def loopsy_check_ack(
        ctx: Context[Any, Any], message_id: str | None = None, peer: str | None = None
    ) -> AckStatus:
        """Read receipts: with `message_id`, that sent message's state (pending, delivered,
        acked, failed); with `peer`, the last message id that peer acknowledged."""
        if message_id is None and peer is None:
            raise ToolError("give message_id, peer, or both")
        with failures():
            local = deps(ctx).local.messages
            return AckStatus(
                message=await local.outbox(message_id) if message_id else None,
                last_ack=await local.last_ack(peer) if peer else None,
            )
