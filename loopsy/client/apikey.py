"""``client.api_key``: rotate the daemon's API key (unix socket only).

    new = (await client.api_key.rotate()).api_key
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.protocol.apikey import ApiKey

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient


class ApiKeyApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def rotate(self) -> ApiKey:
        """A new key, in force at once; raises ``Forbidden`` unless on the unix socket."""
        return await self._client.call_model("POST", "/auth/api-key", ApiKey)
