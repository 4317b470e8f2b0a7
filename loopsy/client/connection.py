"""How the client reaches a daemon: the unix socket, TCP with a bearer key, or (later) the
relay tunnel. A connection makes the HTTP transport and opens WebSockets; nothing else in
Loopsy builds daemon URLs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx
from websockets.typing import Subprotocol

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

API_PREFIX = "/api/v1"


class WebSocketStream(Protocol):
    """The part of a WebSocket the client uses; the relay tunnel provides the same."""

    async def send(self, message: bytes | str) -> None: ...

    async def recv(self) -> bytes | str: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class Connection(Protocol):
    @property
    def base_url(self) -> str: ...

    @property
    def description(self) -> str: ...

    def http_transport(self) -> httpx.AsyncBaseTransport: ...

    def auth_headers(self) -> dict[str, str]: ...

    async def open_websocket(
        self, path: str, subprotocols: Sequence[str] = ()
    ) -> WebSocketStream: ...


@dataclass(frozen=True)
class UnixConnection:
    """The local daemon through ``$LOOPSY_HOME/loopsyd.sock``: the file mode is the auth."""

    path: Path
    base_url: str = "http://localhost"

    @property
    def description(self) -> str:
        return str(self.path)

    def http_transport(self) -> httpx.AsyncBaseTransport:
        # Not httpcore, which cost most of a local round trip (see unix_http).
        from loopsy.client.unix_http import UnixSocketTransport

        return UnixSocketTransport(str(self.path))

    def auth_headers(self) -> dict[str, str]:
        return {}

    async def open_websocket(self, path: str, subprotocols: Sequence[str] = ()) -> WebSocketStream:
        from websockets.asyncio.client import unix_connect

        return await unix_connect(
            str(self.path),
            uri=f"ws://localhost{API_PREFIX}{path}",
            compression=None,
            max_size=16 << 20,
            open_timeout=10,
            subprotocols=_subprotocols(subprotocols),
        )


@dataclass(frozen=True)
class TcpConnection:
    """A daemon on TCP, authenticated with a bearer credential (API key or peer credential)."""

    host: str
    port: int
    token: str | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def description(self) -> str:
        return f"{self.host}:{self.port}"

    def http_transport(self) -> httpx.AsyncBaseTransport:
        return httpx.AsyncHTTPTransport()

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def open_websocket(self, path: str, subprotocols: Sequence[str] = ()) -> ClientConnection:
        from websockets.asyncio.client import connect

        ws_base = self.base_url.replace("http://", "ws://", 1)
        return await connect(
            f"{ws_base}{API_PREFIX}{path}",
            additional_headers=self.auth_headers(),
            compression=None,
            max_size=16 << 20,
            open_timeout=10,
            subprotocols=_subprotocols(subprotocols),
        )


def _subprotocols(values: Sequence[str]) -> list[Subprotocol] | None:
    return [Subprotocol(v) for v in values] or None
