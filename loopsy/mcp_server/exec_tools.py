"""MCP tool: run a command to its end, here or on a peer."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from loopsy.mcp_server.deps import deps, failures, tool
from loopsy.protocol.execute import ExecResult


def register(server: MCPServer[Any]) -> None:
    @tool(server)
    async def loopsy_execute(
        ctx: Context[Any, Any],
        command: list[str] | None = None,
        shell: str | None = None,
        peer: str | None = None,
        cwd: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the command's, sent to the daemon)
        stdin: str | None = None,
    ) -> ExecResult:
        """Run a command on this machine or on `peer` and wait for it to end: `command` as
        an argv list (["ls", "-l"]) or `shell` as one shell line ("make && ls build").
        Returns exit_code, stdout, stderr (capped; *_truncated says so), duration and
        timed_out. For long or interactive work use loopsy_session_start instead."""
        if (command is None) == (shell is None):
            raise ToolError("give exactly one of command (an argv list) or shell (a line)")
        with failures():
            client = await deps(ctx).target(peer)
            return await client.execute.run(
                command, shell=shell, cwd=cwd, timeout=timeout, stdin=stdin
            )
