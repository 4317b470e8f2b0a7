"""``client.approvals``: what waits for a yes at the machine. Allowing and denying works
only over the unix socket (``LoopsyClient.local()``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.protocol.approvals import Approval, ApprovalList

if TYPE_CHECKING:
    from loopsy.client.core import LoopsyClient


class ApprovalsApi:
    def __init__(self, client: LoopsyClient) -> None:
        self._client = client

    async def list(self, state: str | None = None) -> list[Approval]:
        """Newest first; ``state="pending"`` for those waiting."""
        page = await self._client.get_model("/approvals", ApprovalList, params={"state": state})
        return page.approvals

    async def allow(self, approval_id: str) -> Approval:
        from loopsy.client.core import path

        return await self._client.call_model(
            "POST", path("approvals", approval_id, "allow"), Approval
        )

    async def deny(self, approval_id: str) -> Approval:
        from loopsy.client.core import path

        return await self._client.call_model(
            "POST", path("approvals", approval_id, "deny"), Approval
        )
