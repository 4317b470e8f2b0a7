"""MCP tools: long-lived PTY sessions, here or on a peer: start, read new output, type,
stop, list, remove. Output is numbered by byte offset: pass `next` back as `since`."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from loopsy.mcp_server.deps import deps, failures, tool
from loopsy.protocol.sessions import SessionInfo

MAX_WAIT = 30.0


class SessionRead(BaseModel):
    session: str
    data: str
    since: int
    next: int
    gap: bool
    state: str
    exited: bool
    exit_code: int | None = None


class Removed(BaseModel):
    session: str
    removed: bool


def register(server: MCPServer[Any]) -> None:
    @tool(server)
    async def loopsy_session_start(
        ctx: Context[Any, Any],
        command: list[str] | None = None,
        agent: str | None = None,
        peer: str | None = None,
        cwd: str | None = None,
        name: str | None = None,
        env: dict[str, str] | None = None,
        cols: int = 120,
        rows: int = 40,
    ) -> SessionInfo:
        """Start a long-lived PTY session on this machine or on `peer`: `command` as an argv
        list (e.g. ["make", "build"]), or an `agent` from the registry (claude, codex, shell,
        ...), or a shell when both are omitted. It keeps running after this call; read its
        output with loopsy_session_read, type with loopsy_session_send, end it with
        loopsy_session_stop. Returns the session (its `id` names it in the other tools)."""
        with failures():
            client = await deps(ctx).target(peer)
            return await client.sessions.create(
                agent, argv=command, cwd=cwd, env=env, cols=cols, rows=rows, name=name
            )

    @tool(server)
    async def loopsy_session_read(
        session: str,
        ctx: Context[Any, Any],
        peer: str | None = None,
        since: int = 0,
        wait: float = 5.0,
        max_bytes: int = 65536,
    ) -> SessionRead:
        """Read a session's output from byte offset `since` (0: from the start still kept),
        waiting up to `wait` seconds (at most 30) for something new. Pass the answer's
        `next` as `since` to get only new output. `exited` and `exit_code` say when the
        program has ended: poll until then to wait for a build."""
        with failures():
            client = await deps(ctx).target(peer)
            out = await client.sessions.read(
                session, since, max_bytes=max_bytes, wait=max(0.0, min(wait, MAX_WAIT))
            )
            info = await client.sessions.get(session)
        return SessionRead(
            session=info.id,
            data=out.data,
            since=out.offset,
            next=out.next,
            gap=out.gap,
            state=info.state,
            exited=out.exited,
            exit_code=info.exit.code if info.exit else None,
        )

    @tool(server)
    async def loopsy_session_send(
        session: str,
        text: str,
        ctx: Context[Any, Any],
        peer: str | None = None,
        enter: bool = True,
    ) -> SessionInfo:
        """Type `text` into a session (as keystrokes; `enter` presses Enter after it)."""
        with failures():
            client = await deps(ctx).target(peer)
            await client.sessions.send_input(session, text + ("\r" if enter else ""))
            return await client.sessions.get(session)

    @tool(server)
    async def loopsy_session_stop(
        session: str, ctx: Context[Any, Any], peer: str | None = None, grace: float = 3.0
    ) -> SessionInfo:
        """End a session's program (SIGHUP, then SIGKILL after `grace` seconds). The
        session and its output stay until loopsy_session_remove."""
        with failures():
            return await (await deps(ctx).target(peer)).sessions.kill(session, grace)

    @tool(server)
    async def loopsy_session_list(
        ctx: Context[Any, Any], peer: str | None = None
    ) -> list[SessionInfo]:
        """Sessions on this machine or on `peer`: id, name, command, state, exit."""
        with failures():
            return await (await deps(ctx).target(peer)).sessions.list()

    @tool(server)
    async def loopsy_session_remove(
        session: str, ctx: Context[Any, Any], peer: str | None = None, force: bool = False
    ) -> Removed:
        """Remove an ended session and its output (`force` also ends a running one)."""
        with failures():
            await (await deps(ctx).target(peer)).sessions.remove(session, force=force)
        return Removed(session=session, removed=True)
