"""A paired peer's daemon, reached on its mesh port over TLS pinned to the certificate
exchanged at pairing, with the credential that peer issued to this machine."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from loopsy.client.connection import API_PREFIX, _subprotocols
from loopsy.protocol.tls_pin import pinned_context

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection


@dataclass(frozen=True)
class PinnedTlsConnection:
    host: str
    port: int
    token: str = field(repr=False)
    cert_pem: str = field(repr=False)
    name: str = ""

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def description(self) -> str:
        return f"peer {self.name} at {self.host}:{self.port}" if self.name else self.base_url

    def ssl_context(self) -> ssl.SSLContext:
        return pinned_context(self.cert_pem)

    def http_transport(self) -> httpx.AsyncBaseTransport:
        return httpx.AsyncHTTPTransport(verify=self.ssl_context())

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def open_websocket(self, path: str, subprotocols: Sequence[str] = ()) -> ClientConnection:
        from websockets.asyncio.client import connect

        ws_base = self.base_url.replace("https://", "wss://", 1)
        return await connect(
            f"{ws_base}{API_PREFIX}{path}",
            ssl=self.ssl_context(),
            additional_headers=self.auth_headers(),
            compression=None,
            max_size=16 << 20,
            open_timeout=10,
            subprotocols=_subprotocols(subprotocols),
        )
