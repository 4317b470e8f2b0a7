"""Approvals: actions that need a yes from someone at the machine itself (the unix socket),
such as running an agent in its auto-approve mode."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loopsy.protocol.models import ResponseModel

ApprovalState = Literal["pending", "allowed", "denied", "expired", "cancelled"]


class Approval(ResponseModel):
    id: str
    kind: str = Field(description="What is asked: 'auto_approve' (an agent without prompts)")
    subject: str = Field(description="What it is about (a session id)")
    summary: str = Field(description="One line for a person to decide on")
    requested_by: str = Field(description="The caller who asked (phone:..., peer:..., local)")
    created: float
    expires: float
    state: ApprovalState
    decided_by: str | None = None
    decided_at: float | None = None


class ApprovalList(ResponseModel):
    approvals: list[Approval]
