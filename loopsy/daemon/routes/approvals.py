"""``/approvals``: requests that wait for a yes from someone at the machine. Anyone may
list them; only local callers (the unix socket) may allow or deny."""

from __future__ import annotations

from typing import Literal

from loopsy.daemon.approvals import Approvals
from loopsy.daemon.endpoints import Call, endpoint
from loopsy.daemon.services import Services
from loopsy.protocol.approvals import Approval, ApprovalList
from loopsy.protocol.models import RequestModel

TAGS = ("approvals",)


class ApprovalsQuery(RequestModel):
    state: Literal["pending", "allowed", "denied", "expired", "cancelled"] | None = None


def approvals_of(services: Services) -> Approvals:
    approvals = services.approvals
    assert approvals is not None, "approvals are not set up"
    return approvals


@endpoint(
    "GET",
    "/approvals",
    summary="List approvals",
    query=ApprovalsQuery,
    response=ApprovalList,
    tags=TAGS,
)
async def list_approvals(call: Call[None, ApprovalsQuery]) -> ApprovalList:
    """Newest first; ``state=pending`` for those waiting."""
    approvals = approvals_of(call.services)
    await approvals.expire_due()
    return ApprovalList(approvals=approvals.select(call.query.state))


@endpoint(
    "POST",
    "/approvals/{approval}/allow",
    summary="Allow (on the machine only)",
    response=Approval,
    callers=("local",),
    tags=TAGS,
)
async def allow(call: Call[None, None]) -> Approval:
    """Local callers only: confirmation happens at the machine, never over the network."""
    return await approvals_of(call.services).decide(
        call.path_param("approval"), True, str(call.caller)
    )


@endpoint(
    "POST",
    "/approvals/{approval}/deny",
    summary="Deny (on the machine only)",
    response=Approval,
    callers=("local",),
    tags=TAGS,
)
async def deny(call: Call[None, None]) -> Approval:
    """Local callers only."""
    return await approvals_of(call.services).decide(
        call.path_param("approval"), False, str(call.caller)
    )


routes = [list_approvals, allow, deny]
