"""What every tool needs, made once per MCP session in the lifespan: the local client and
a client per peer used, plus the translation of Loopsy errors into tool errors."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from loopsy.client import LoopsyClient
from loopsy.home import LoopsyHome
from loopsy.protocol.errors import LoopsyError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Deps:
    home: LoopsyHome
    local: LoopsyClient
    _peers: dict[str, LoopsyClient] = field(default_factory=dict)

    async def target(self, peer: str | None) -> LoopsyClient:
        """This machine's daemon, or paired ``peer``'s (name or id)."""
        if peer is None or peer == "":
            return self.local
        from loopsy.client.tls_connection import PinnedTlsConnection

        # Asked every time (one unix-socket round trip): a peer removed, re-paired or moved
        # since the last call must not be reached with what was true then.
        found = await self.local.peers.endpoint(peer)
        wanted = PinnedTlsConnection(
            found.host, found.port, found.credential, found.cert_pem, found.name
        )
        client = self._peers.get(peer)
        if client is None or client.connection != wanted:
            if client is not None:
                await client.aclose()
            client = self._peers[peer] = LoopsyClient(wanted)
        return client

    async def forget(self, peer: str) -> None:
        client = self._peers.pop(peer, None)
        if client is not None:
            await client.aclose()

    async def aclose(self) -> None:
        for client in self._peers.values():
            await client.aclose()
        self._peers.clear()
        await self.local.aclose()


def tool(server: MCPServer[Any]) -> Callable[[F], F]:
    """Register a tool; its docstring, dedented, is the description the model reads."""

    def register(fn: F) -> F:
        return server.tool(description=inspect.cleandoc(fn.__doc__ or ""))(fn)

    return register


def deps(ctx: Context[Any, Any]) -> Deps:
    found = ctx.request_context.lifespan_context
    assert isinstance(found, Deps)
    return found


@contextlib.contextmanager
def failures() -> Iterator[None]:
    """Expected failures become tool errors the model can read, hint included."""
    try:
        yield
    except LoopsyError as exc:
        text = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
        raise ToolError(text) from None


def lifespan_for(home: LoopsyHome | None) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(server: Any) -> AsyncIterator[Deps]:
        resolved = home or LoopsyHome.from_env()
        found = Deps(resolved, LoopsyClient.local(resolved))
        try:
            yield found
        finally:
            await found.aclose()

    return lifespan
