"""Agent messaging (AGENTS.md) on top of the context store: send, receive, acknowledge.

Keys, all in the context store, so any agent can also read them with plain context calls:

- ``inbox:<me>:<id>`` on the recipient: an :class:`InboxEntry` (envelope, received_at,
  acked_at);
- ``outbox:<id>`` on the sender: an :class:`OutboxEntry` (envelope, delivery state);
- ``ack:<peer>`` on the sender: the last id ``peer`` acknowledged.

Writes under these prefixes through the context routes are refused to every caller but
the local user (:func:`check_reserved`), so the ``from`` of an envelope is always the one
this daemon set from the authenticated caller. Delivery is at-least-once: a message that
could not be delivered stays ``pending`` and :class:`MessageRetrier` tries again until its
TTL runs out; the recipient stores by id with set-if-absent, so a redelivery is harmless.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from loopsy.mesh.calls import peer_post
from loopsy.protocol.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from loopsy.protocol.messages import (
    MAX_BODY_CHARS,
    AckRecord,
    AckResult,
    Deliver,
    Envelope,
    InboxEntry,
    OutboxEntry,
    SendMessage,
)

if TYPE_CHECKING:
    from loopsy.daemon.auth import Caller
    from loopsy.daemon.context import ContextStore
    from loopsy.mesh.registry import PeerRegistry

log = logging.getLogger("loopsy.messages")

RESERVED_PREFIXES = ("inbox:", "outbox:", "ack:")
RETRY_INTERVAL = 10.0
SELF_NAMES = ("self", "local")


def check_reserved(caller: Caller, key: str) -> None:
    """For the context routes: only this daemon (and the local user) write message keys."""
    if key.startswith(RESERVED_PREFIXES) and caller.kind != "local":
        raise Forbidden(
            f"keys starting with {key.split(':', 1)[0]}: belong to the messaging protocol",
            hint="send with `loopsy_send_message` / POST /messages; the daemon writes these keys",
        )


def new_message_id(now: float) -> str:
    """Time first, so keys list in the order messages were sent."""
    return f"{int(now * 1000):013d}-{secrets.token_hex(6)}"


class Messages:
    def __init__(
        self,
        context: ContextStore,
        registry: PeerRegistry,
        node_id: Callable[[], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.context = context
        self.registry = registry
        self.node_id = node_id
        self.clock = clock
        # Told of inbox changes (kind, message id): the daemon publishes them as events.
        self.on_change: Callable[[str, str], None] = lambda kind, msg_id: None

    # -- sending ---------------------------------------------------------------------------

    def _recipient(self, to: str) -> str:
        me = self.node_id()
        if to in (me, *SELF_NAMES):
            return me
        peer = self.registry.get(to)
        if not peer.paired:
            raise Conflict(f"peer {peer.name!r} is not paired", hint="pair it: `loopsy pair HOST`")
        return peer.id

    async def send(self, request: SendMessage) -> OutboxEntry:
        if len(json.dumps(request.body)) > MAX_BODY_CHARS:
            raise PayloadTooLarge(f"message body over {MAX_BODY_CHARS} bytes as JSON")
        to = self._recipient(request.to)
        now = self.clock()
        msg_id = request.id or new_message_id(now)
        key = f"outbox:{msg_id}"
        existing = self.context.get(key)
        if existing is not None:
            entry = OutboxEntry.model_validate_json(existing.value)
            same = (entry.envelope.to, entry.envelope.type, entry.envelope.body) == (
                to,
                request.type,
                request.body,
            )
            if not same:
                raise Conflict(f"message id {msg_id!r} was already used for another message")
            if entry.state == "pending":
                return await self._deliver(entry)
            return entry
        envelope = Envelope.model_validate(
            {
                "id": msg_id,
                "from": self.node_id(),
                "to": to,
                "ts": now,
                "type": request.type,
                "body": request.body,
                "ttl": request.ttl,
                "reply_to": request.reply_to,
            }
        )
        entry = OutboxEntry(envelope=envelope, state="pending")
        self._save_outbox(entry, if_absent=True)
        return await self._deliver(entry)

    async def _deliver(self, entry: OutboxEntry) -> OutboxEntry:
        env = entry.envelope
        deliver = Deliver(
            id=env.id,
            to=env.to,
            ts=env.ts,
            type=env.type,
            body=env.body,
            ttl=env.ttl,
            reply_to=env.reply_to,
        )
        entry.attempts += 1
        try:
            if env.to == self.node_id():
                self.receive(deliver, sender=env.from_)
            else:
                await peer_post(
                    self.registry.endpoint(env.to), "/messages/inbox", deliver.model_dump()
                )
        except (Unavailable, NotFound) as exc:
            # unreachable, or the peer was removed: worth retrying until the TTL ends
            entry.state, entry.last_error = "pending", exc.message
        except ApiError as exc:
            entry.state, entry.last_error = "failed", exc.message
        else:
            entry.state, entry.last_error = "delivered", None
        self._save_outbox(entry)
        return entry

    def _save_outbox(self, entry: OutboxEntry, *, if_absent: bool = False) -> None:
        env = entry.envelope
        remaining = env.ts + env.ttl - self.clock()
        if remaining <= 0:
            return
        self.context.set(
            f"outbox:{env.id}",
            entry.model_dump_json(by_alias=True),
            ttl=remaining,
            if_absent=if_absent,
        )

    def outbox(self, msg_id: str) -> OutboxEntry:
        found = self.context.get(f"outbox:{msg_id}")
        if found is None:
            raise NotFound(f"no sent message {msg_id!r} (never sent here, or expired)")
        return OutboxEntry.model_validate_json(found.value)

    # -- receiving ---------------------------------------------------------------------------

    def receive(self, deliver: Deliver, *, sender: str) -> InboxEntry:
        """Store a delivery; ``sender`` is the authenticated caller, never the body."""
        me = self.node_id()
        if deliver.to != me:
            raise BadRequest(f"this is node {me}, not {deliver.to}")
        if len(json.dumps(deliver.body)) > MAX_BODY_CHARS:
            raise PayloadTooLarge(f"message body over {MAX_BODY_CHARS} bytes as JSON")
        key = f"inbox:{me}:{deliver.id}"
        existing = self.context.get(key)
        if existing is not None:
            entry = InboxEntry.model_validate_json(existing.value)
            if entry.envelope.from_ != sender:
                raise Conflict(f"message id {deliver.id!r} is taken by another sender")
            return entry  # a redelivery: already stored, nothing to do
        envelope = Envelope.model_validate({**deliver.model_dump(), "from": sender})
        entry = InboxEntry(envelope=envelope, received_at=self.clock())
        self.context.set(key, entry.model_dump_json(by_alias=True), ttl=deliver.ttl)
        self.on_change("message.received", deliver.id)
        return entry

    def inbox(self, *, include_acked: bool = False, limit: int = 100) -> list[InboxEntry]:
        found: list[InboxEntry] = []
        after: str | None = None
        for _ in range(1000):  # bounded: 1000 pages
            page = self.context.list(f"inbox:{self.node_id()}:", after=after, limit=100)
            for item in page.entries:
                try:
                    entry = InboxEntry.model_validate_json(item.value)
                except ValueError:  # written by hand by the local user: not a message
                    continue
                if include_acked or entry.acked_at is None:
                    found.append(entry)
                    if len(found) >= limit:
                        return found
            if page.next_after is None:
                break
            after = page.next_after
        return found

    async def ack(self, msg_id: str) -> AckResult:
        """Mark ``msg_id`` processed here and tell its sender (or leave that to the retrier)."""
        key = f"inbox:{self.node_id()}:{msg_id}"
        found = self.context.get(key)
        if found is None:
            raise NotFound(f"no message {msg_id!r} in the inbox (never received, or expired)")
        entry = InboxEntry.model_validate_json(found.value)
        if entry.acked_at is None:
            entry.acked_at = self.clock()
        if not entry.sender_notified:
            entry.sender_notified = await self._notify_sender(entry)
        remaining = entry.envelope.ts + entry.envelope.ttl - self.clock()
        self.context.set(key, entry.model_dump_json(by_alias=True), ttl=max(remaining, 60.0))
        self.on_change("message.acked", msg_id)
        return AckResult(id=msg_id, acked_at=entry.acked_at, sender_notified=entry.sender_notified)

    async def _notify_sender(self, entry: InboxEntry) -> bool:
        sender = entry.envelope.from_
        try:
            if sender == self.node_id():
                self.receive_ack(entry.envelope.id, sender=sender)
            else:
                endpoint = self.registry.endpoint(sender)
                await peer_post(endpoint, "/messages/acks", {"id": entry.envelope.id})
        except ApiError as exc:
            log.info("ack of %s not delivered yet: %s", entry.envelope.id, exc.message)
            return False
        return True

    def receive_ack(self, msg_id: str, *, sender: str) -> OutboxEntry:
        """``sender`` (authenticated) processed ``msg_id``: only its recipient may say so."""
        entry = self.outbox(msg_id)
        if entry.envelope.to != sender:
            raise Forbidden(f"message {msg_id!r} was not sent to you")
        entry.state = "acked"
        entry.acked_at = entry.acked_at or self.clock()
        self._save_outbox(entry)
        record = AckRecord(peer=sender, id=msg_id, ts=entry.acked_at)
        self.context.set(f"ack:{sender}", record.model_dump_json())
        return entry

    def ack_record(self, peer: str) -> AckRecord:
        peer_id = self._recipient(peer)
        found = self.context.get(f"ack:{peer_id}")
        if found is None:
            return AckRecord(peer=peer_id)
        return AckRecord.model_validate_json(found.value)

    # -- retries -------------------------------------------------------------------------------

    async def retry_pending(self) -> int:
        """Redeliver pending messages and undelivered acks; returns how many went through."""
        done = 0
        for prefix in ("outbox:", f"inbox:{self.node_id()}:"):
            after: str | None = None
            for _ in range(1000):
                page = self.context.list(prefix, after=after, limit=100)
                for item in page.entries:
                    try:
                        done += await self._retry_one(prefix, item.value)
                    except ValueError:
                        continue
                if page.next_after is None:
                    break
                after = page.next_after
        return done

    async def _retry_one(self, prefix: str, value: str) -> int:
        if prefix == "outbox:":
            out = OutboxEntry.model_validate_json(value)
            if out.state == "pending":
                return int((await self._deliver(out)).state == "delivered")
            return 0
        inbox = InboxEntry.model_validate_json(value)
        if inbox.acked_at is not None and not inbox.sender_notified:
            return int((await self.ack(inbox.envelope.id)).sender_notified)
        return 0


class MessageRetrier:
    """Background: every :data:`RETRY_INTERVAL` seconds, retry what did not get through."""

    def __init__(self, messages: Messages, interval: float = RETRY_INTERVAL) -> None:
        self.messages = messages
        self.interval = interval

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.interval)
            try:
                await self.messages.retry_pending()
            except Exception:  # a corrupt entry must not end retries for good
                log.exception("message retry failed")
