"""Agent messages (AGENTS.md): send, the inbox, acknowledgements. The envelope's ``from``
is always the authenticated caller: a peer's node id, or this node for local callers."""

from __future__ import annotations

import re
from typing import Any

from loopsy.daemon.endpoints import Call, endpoint
from loopsy.daemon.messages import Messages
from loopsy.protocol.errors import Unavailable, ValidationFailed
from loopsy.protocol.messages import (
    MESSAGE_ID,
    AckNotice,
    AckRecord,
    AckResult,
    Deliver,
    InboxEntry,
    InboxList,
    InboxQuery,
    OutboxEntry,
    SendMessage,
)

OWNER = ("local", "key", "phone")
PEER = ("peer",)
TAGS = ("messages",)
MAX_BODY = 512 << 10


def message_id(call: Call[Any, Any]) -> str:
    found = call.path_param("id")
    if not re.fullmatch(MESSAGE_ID, found):
        raise ValidationFailed(f"{found[:80]!r} is not a message id (letters, digits, _ . -)")
    return found


def messages_of(call: Call[Any, Any]) -> Messages:
    found = call.services.messages
    if found is None:
        raise Unavailable("messaging is not available in this daemon")
    return found


@endpoint(
    "POST",
    "/messages",
    summary="Send a message to a peer (or to this node)",
    body=SendMessage,
    response=OutboxEntry,
    status=201,
    rate="context",
    callers=OWNER,
    max_body=MAX_BODY,
    tags=TAGS,
)
async def send_message(call: Call[SendMessage, None]) -> OutboxEntry:
    """Stores ``outbox:<id>`` here and delivers to ``inbox:<to>:<id>`` on the recipient.
    ``state`` is ``delivered``, or ``pending`` (retried until the TTL ends) when the peer
    cannot be reached. Sending again with the same ``id`` is harmless."""
    return await messages_of(call).send(call.body)


@endpoint(
    "POST",
    "/messages/inbox",
    summary="Deliver a message (from a paired peer)",
    body=Deliver,
    response=InboxEntry,
    status=201,
    rate="context",
    callers=PEER,
    max_body=MAX_BODY,
    tags=TAGS,
)
async def deliver_message(call: Call[Deliver, None]) -> InboxEntry:
    """A peer daemon's delivery; ``from`` is that peer, whatever the body says (it may
    not say anything: an unknown field is refused)."""
    return messages_of(call).receive(call.body, sender=call.caller.id)


@endpoint(
    "GET",
    "/messages/inbox",
    summary="Messages addressed to this node",
    query=InboxQuery,
    response=InboxList,
    callers=OWNER,
    tags=TAGS,
)
async def check_inbox(call: Call[None, InboxQuery]) -> InboxList:
    """Oldest first; unacknowledged only unless ``include_acked``."""
    q = call.query
    return InboxList(messages=messages_of(call).inbox(include_acked=q.include_acked, limit=q.limit))


@endpoint(
    "POST",
    "/messages/inbox/{id}/ack",
    summary="Acknowledge a message",
    response=AckResult,
    callers=OWNER,
    tags=TAGS,
)
async def ack_message(call: Call[None, None]) -> AckResult:
    """Marks it processed and tells the sender (``ack:<this node>`` there)."""
    msg_id = message_id(call)
    return await messages_of(call).ack(msg_id)


@endpoint(
    "POST",
    "/messages/acks",
    summary="A recipient acknowledges (from a paired peer)",
    body=AckNotice,
    response=OutboxEntry,
    callers=PEER,
    tags=TAGS,
)
async def receive_ack(call: Call[AckNotice, None]) -> OutboxEntry:
    """Only the message's recipient may acknowledge it."""
    return messages_of(call).receive_ack(call.body.id, sender=call.caller.id)


@endpoint(
    "GET",
    "/messages/outbox/{id}",
    summary="A sent message and its delivery state",
    response=OutboxEntry,
    callers=OWNER,
    tags=TAGS,
)
async def get_outbox(call: Call[None, None]) -> OutboxEntry:
    """pending, delivered, acked or failed."""
    return messages_of(call).outbox(message_id(call))


@endpoint(
    "GET",
    "/messages/acks/{peer}",
    summary="The last message a peer acknowledged",
    response=AckRecord,
    callers=OWNER,
    tags=TAGS,
)
async def get_ack(call: Call[None, None]) -> AckRecord:
    """``ack:<peer>`` on this node; ``id`` is null if that peer never acknowledged."""
    return messages_of(call).ack_record(call.path_param("peer"))


routes = [send_message, deliver_message, check_inbox, ack_message, receive_ack, get_outbox, get_ack]
