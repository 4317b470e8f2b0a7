"""``client.peers``: the mesh as seen from this machine (registry, pairing), and
:func:`peer_client`, the one way to get a client that talks to a paired peer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.client.core import path
from loopsy.protocol.peers import PairingStatus, PeerEndpoint, PeerInfo, PeerList

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient

# The verify call blocks until the user on the other machine accepts the code.
PAIRING_TIMEOUT = 330.0


class PeersApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def list(self, *, refresh: bool = False) -> list[PeerInfo]:
        params = {"refresh": "true"} if refresh else None
        return (await self._client.get_model("/peers", PeerList, params=params)).peers

    async def get(self, ref: str) -> PeerInfo:
        """By name or id, health-checked now."""
        return await self._client.get_model(path("peers", ref), PeerInfo)

    async def add(self, host: str, port: int | None = None) -> PeerInfo:
        body = {"host": host, "port": port}
        return await self._client.call_model("POST", "/peers", PeerInfo, json_body=body)

    async def remove(self, ref: str) -> PeerInfo:
        return await self._client.call_model("DELETE", path("peers", ref), PeerInfo)

    async def endpoint(self, ref: str) -> PeerEndpoint:
        return await self._client.get_model(path("peers", ref, "endpoint"), PeerEndpoint)

    # -- pairing ------------------------------------------------------------------------------

    async def pairing_listen(self, open_for: float = 300.0) -> PairingStatus:
        return await self._client.call_model(
            "POST", "/peers/pairing/listen", PairingStatus, json_body={"timeout": open_for}
        )

    async def pairing_status(self, seen: str = "", wait: float = 0.0) -> PairingStatus:
        params = {"seen": seen, "wait": wait}
        response = await self._client.request(
            "GET", "/peers/pairing", params=params, request_timeout=wait + 15
        )
        return PairingStatus.model_validate_json(response.content)

    async def pairing_decide(self, accept: bool, code: str | None = None) -> PairingStatus:
        """Accept or reject; ``code`` (the one shown) makes it 409 if that attempt ended."""
        body: dict[str, bool | str] = {"accept": accept}
        if code is not None:
            body["code"] = code
        return await self._client.call_model(
            "POST", "/peers/pairing/decide", PairingStatus, json_body=body
        )

    async def pairing_cancel(self) -> PairingStatus:
        return await self._client.call_model("DELETE", "/peers/pairing", PairingStatus)

    async def pairing_connect(self, host: str, port: int) -> PairingStatus:
        return await self._client.call_model(
            "POST", "/peers/pairing/connect", PairingStatus, json_body={"host": host, "port": port}
        )

    async def pairing_verify(self, code: str | None, accept: bool = True) -> PairingStatus:
        response = await self._client.request(
            "POST",
            "/peers/pairing/verify",
            json_body={"code": code, "accept": accept},
            request_timeout=PAIRING_TIMEOUT,
        )
        return PairingStatus.model_validate_json(response.content)


async def peer_client(local: LoopsyClient, ref: str) -> LoopsyClient:
    """A client on paired peer ``ref`` (name or id): the same API, reached over pinned TLS
    with the credential that peer issued to this machine. Close it after use."""
    from loopsy.client.core import LoopsyClient
    from loopsy.client.tls_connection import PinnedTlsConnection

    found = await local.peers.endpoint(ref)
    return LoopsyClient(
        PinnedTlsConnection(found.host, found.port, found.credential, found.cert_pem, found.name)
    )
