"""MCP tools: the machines on the mesh."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer

from loopsy.mcp_server.deps import deps, failures, tool
from loopsy.protocol.peers import PeerInfo


def register(server: MCPServer[Any]) -> None:
    @tool(server)
    async def loopsy_list_peers(ctx: Context[Any, Any], refresh: bool = True) -> list[PeerInfo]:
        """List the machines this one knows on the LAN mesh: paired peers first, each with
        status (online/offline), latency in ms and, when offline, why. Paired peers can be
        named in the `peer` argument of the other loopsy_* tools, by name or id.
        `refresh` (default true) checks each peer now."""
        with failures():
            return await deps(ctx).local.peers.list(refresh=refresh)

    @tool(server)
    async def loopsy_peer_status(peer: str, ctx: Context[Any, Any]) -> PeerInfo:
        """Health-check one peer (name or id) now: online or offline, latency, version,
        capabilities, and the reason when it cannot be reached."""
        with failures():
            return await deps(ctx).local.peers.get(peer)
