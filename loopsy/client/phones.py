"""``client.phones`` (pair, list, revoke) and ``client.relay`` (status, configure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.client.core import path
from loopsy.protocol.phones import (
    PairOffer,
    PairStart,
    PairState,
    Phone,
    PhoneList,
    RelayConfigure,
    RelayStatus,
)

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient


class PhonesApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def pair(self, ttl: float = 300.0) -> PairOffer:
        """A pairing offer: the URL for the QR code and the code to show beside it."""
        return await self._client.call_model(
            "POST", "/phones/pair", PairOffer, json_body=PairStart(ttl=ttl)
        )

    async def pair_state(self, pair_id: str) -> PairState:
        return await self._client.get_model(path("phones", "pair", pair_id), PairState)

    async def list(self) -> list[Phone]:
        return (await self._client.get_model("/phones", PhoneList)).phones

    async def revoke(self, phone_id: str) -> None:
        await self._client.request("DELETE", path("phones", phone_id))


class RelayApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def status(self) -> RelayStatus:
        return await self._client.get_model("/relay", RelayStatus)

    async def configure(
        self, url: str, *, registration_secret: str | None = None, renew: bool = False
    ) -> RelayStatus:
        body = RelayConfigure(url=url, registration_secret=registration_secret, renew=renew)
        return await self._client.call_model("PUT", "/relay", RelayStatus, json_body=body)
