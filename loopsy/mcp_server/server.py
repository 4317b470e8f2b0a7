"""The MCP server: every tool module registered on one :class:`MCPServer`."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from loopsy import __version__
from loopsy.home import LoopsyHome
from loopsy.mcp_server import (
    context_tools,
    exec_tools,
    file_tools,
    message_tools,
    peer_tools,
    session_tools,
)
from loopsy.mcp_server.deps import lifespan_for

INSTRUCTIONS = """\
Loopsy runs commands, PTY sessions, files, a key/value context and messages on this
machine and on paired machines of the LAN mesh. Name a machine with the `peer` argument
(a name or id from loopsy_list_peers); leave it out for this machine. Messages between
agents follow AGENTS.md: send with loopsy_send_message, poll loopsy_check_inbox, and
acknowledge with loopsy_ack_message."""

TOOL_MODULES = (
    peer_tools,
    exec_tools,
    session_tools,
    context_tools,
    message_tools,
    file_tools,
)


def create_server(home: LoopsyHome | None = None) -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer(
        "loopsy",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan_for(home),
        log_level="WARNING",
    )
    for module in TOOL_MODULES:
        module.register(server)
    return server
