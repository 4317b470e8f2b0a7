"""Agent messages between machines (the protocol is written up in AGENTS.md).

An envelope is stored as JSON in the context store: ``inbox:<recipient>:<id>`` on the
recipient, ``outbox:<id>`` on the sender, ``ack:<peer>`` on the sender for the last id
that peer processed. ``from`` is never sent by a client: the receiving daemon sets it from
the authenticated caller, so it cannot be forged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from loopsy.protocol.models import RequestModel, ResponseModel

DEFAULT_TTL = 86400.0  # a day: a message nobody reads in a day is stale
MAX_TTL = 30 * 86400.0
MAX_BODY_CHARS = 256 << 10
MESSAGE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

DeliveryState = Literal["pending", "delivered", "acked", "failed"]


class Envelope(ResponseModel):
    # "from" on the wire and in MCP results alike
    model_config = ConfigDict(extra="ignore", populate_by_name=True, serialize_by_alias=True)

    id: str
    from_: str = Field(alias="from", description="Node id of the sender, set by the daemon")
    to: str = Field(description="Node id of the recipient")
    ts: float = Field(description="Unix time the sender's daemon accepted it")
    type: str = Field(description="What the body is: 'text', 'task', 'result', ... ")
    body: Any
    ttl: float = Field(description="Seconds it is kept after ts")
    reply_to: str | None = None


class OutboxEntry(ResponseModel):
    envelope: Envelope
    state: DeliveryState
    attempts: int = 0
    last_error: str | None = None
    acked_at: float | None = None


class InboxEntry(ResponseModel):
    envelope: Envelope
    received_at: float
    acked_at: float | None = None
    sender_notified: bool = False


class SendMessage(RequestModel):
    """``POST /messages``: send to a peer (name or id), or to this node itself."""

    to: str = Field(min_length=1, max_length=64)
    type: str = Field("text", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    body: Any = Field(description="Any JSON value, at most 256 KiB as JSON")
    ttl: float = Field(DEFAULT_TTL, gt=0, le=MAX_TTL)
    id: str | None = Field(
        None, pattern=MESSAGE_ID, description="Choose it to make retries idempotent"
    )
    reply_to: str | None = Field(None, pattern=MESSAGE_ID)


class Deliver(RequestModel):
    """``POST /messages/inbox``: what a sender's daemon hands the recipient's. No ``from``:
    the recipient takes it from the credential."""

    id: str = Field(pattern=MESSAGE_ID)
    to: str = Field(min_length=1, max_length=64)
    ts: float
    type: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    body: Any
    ttl: float = Field(gt=0, le=MAX_TTL)
    reply_to: str | None = Field(None, pattern=MESSAGE_ID)


class AckNotice(RequestModel):
    """``POST /messages/acks``: the recipient tells the sender it processed ``id``."""

    id: str = Field(pattern=MESSAGE_ID)


class AckRecord(ResponseModel):
    peer: str
    id: str | None = None
    ts: float | None = None


class InboxQuery(RequestModel):
    include_acked: bool = False
    limit: int = Field(100, ge=1, le=1000)


class InboxList(ResponseModel):
    messages: list[InboxEntry]


class AckResult(ResponseModel):
    id: str
    acked_at: float
    sender_notified: bool
