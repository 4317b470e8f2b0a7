"""``client.agents``: what a session can run, and pinned custom commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loopsy.protocol.agents import AgentInfo, AgentList

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient


class AgentsApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def list(self, *, refresh: bool = False) -> list[AgentInfo]:
        """Built-in agents (detected or not) and pinned commands; ``refresh`` re-probes."""
        page = await self._client.get_model(
            "/agents", AgentList, params={"refresh": "true" if refresh else None}
        )
        return page.agents

    async def pin(
        self, name: str, argv: Sequence[str], *, label: str | None = None, cwd: str | None = None
    ) -> AgentInfo:
        from loopsy.client.core import path

        body = {"label": label or name, "argv": list(argv), "cwd": cwd}
        return await self._client.call_model(
            "PUT", path("agents", "custom", name), AgentInfo, json_body=body
        )

    async def unpin(self, name: str) -> None:
        from loopsy.client.core import path

        await self._client.request("DELETE", path("agents", "custom", name))
