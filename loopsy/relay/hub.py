"""The relay's switchboard: which daemon link and which phone connections are live, and
the bounded outboxes between them.

Each socket has its own outbox and writer task, so a phone that reads slowly fills only its
own outbox (bounded; past the bound that phone is closed with 4429) and never stalls the
daemon link or the device's other phones. Bytes a phone queues towards the daemon are
counted per phone for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from starlette.websockets import WebSocket, WebSocketDisconnect

from loopsy.protocol import relay as wire
from loopsy.protocol.errors import ProtocolError

log = logging.getLogger("loopsy.relay")

OUTBOX_LIMIT = 4 * 1024 * 1024  # bytes queued per phone connection, per direction


@dataclass
class _Close:
    code: int
    reason: str


class Outbox:
    """Messages waiting for one socket's writer; bounded in bytes (per owner, too)."""

    def __init__(self) -> None:
        self._items: deque[tuple[bytes | str | _Close, int]] = deque()
        self._ready = asyncio.Event()
        self.size = 0
        self.by_owner: dict[int, int] = {}

    def put(self, item: bytes | str, owner: int = 0, limit: int = OUTBOX_LIMIT) -> bool:
        """Queue ``item``; False (and nothing queued) if ``owner`` already has ``limit``."""
        length = len(item)
        if self.by_owner.get(owner, 0) + length > limit:
            return False
        self.by_owner[owner] = self.by_owner.get(owner, 0) + length
        self.size += length
        self._items.append((item, owner))
        self._ready.set()
        return True

    def close(self, code: int, reason: str, *, flush: bool) -> None:
        if not flush:  # revocation: nothing more reaches the peer
            self._items.clear()
            self.size = 0
            self.by_owner.clear()
        self._items.append((_Close(code, reason), 0))
        self._ready.set()

    async def next(self) -> bytes | str | _Close:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item, owner = self._items.popleft()
        if not isinstance(item, _Close):
            self.size -= len(item)
            left = self.by_owner.get(owner, 0) - len(item)
            if left > 0:
                self.by_owner[owner] = left
            else:
                self.by_owner.pop(owner, None)
        return item


@dataclass(eq=False)
class Socket:
    """One accepted WebSocket and its outbox."""

    ws: WebSocket
    device_id: str
    outbox: Outbox = field(default_factory=Outbox)
    closing: bool = False

    def send(self, item: bytes | str, owner: int = 0) -> bool:
        if self.closing:
            return True  # dropped: the socket is going away anyway
        return self.outbox.put(item, owner)

    def close(self, code: int, reason: str = "", *, flush: bool = True) -> None:
        if not self.closing:
            self.closing = True
            self.outbox.close(code, reason[:120], flush=flush)

    async def write_loop(self) -> None:
        while True:
            item = await self.outbox.next()
            try:
                if isinstance(item, _Close):
                    await self.ws.close(item.code, item.reason)
                    return
                if isinstance(item, str):
                    await self.ws.send_text(item)
                else:
                    await self.ws.send_bytes(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return


@dataclass(eq=False)
class PhoneSocket(Socket):
    conn: int = 0
    kind: str = "phone"  # or "pair"
    ident: str = ""  # phone id or pair id


class Hub:
    def __init__(self, on_phone_seen: Callable[[PhoneSocket], None] | None = None) -> None:
        self.links: dict[str, Socket] = {}
        self.phones: dict[str, dict[int, PhoneSocket]] = {}
        self._next_conn = 0
        self._on_phone_seen = on_phone_seen

    def new_conn_id(self) -> int:
        self._next_conn = self._next_conn % wire.MAX_CONN_ID + 1
        return self._next_conn

    def online(self, device_id: str) -> bool:
        return device_id in self.links

    # -- daemon links -------------------------------------------------------------------

    def attach_device(self, link: Socket) -> None:
        old = self.links.get(link.device_id)
        if old is not None:
            old.close(wire.Close.REPLACED, "replaced by a newer connection")
        self.links[link.device_id] = link
        link.send(wire.control({"type": "hello", "device_id": link.device_id, "protocol": 1}))
        for phone in self.phones.get(link.device_id, {}).values():
            self._announce(link, phone)

    def detach_device(self, link: Socket) -> None:
        if self.links.get(link.device_id) is not link:
            return  # already replaced: the phones belong to the newer link
        del self.links[link.device_id]
        for phone in self.phones.get(link.device_id, {}).values():
            phone.send(wire.control({"type": "device", "online": False}))

    def from_device(self, link: Socket, data: bytes) -> None:
        try:
            frame = wire.LinkFrame.decode(data)
        except ProtocolError as exc:
            link.close(wire.Close.PROTOCOL, str(exc))
            return
        phone = self.phones.get(link.device_id, {}).get(frame.conn)
        if frame.type == wire.LinkType.OPEN:
            link.close(wire.Close.PROTOCOL, "OPEN is sent by the relay only")
        elif phone is None:
            return  # the phone left while this was in flight
        elif frame.type == wire.LinkType.DATA:
            if not phone.send(frame.body):
                self._overflow(phone)
        else:
            try:
                code, reason = wire.decode_close(frame.body)
            except ProtocolError:
                code, reason = 1011, ""
            phone.close(code if 4000 <= code <= 4999 else 1011, reason)

    # -- phones -------------------------------------------------------------------------

    def attach_phone(self, phone: PhoneSocket) -> None:
        self.phones.setdefault(phone.device_id, {})[phone.conn] = phone
        link = self.links.get(phone.device_id)
        if link is None:
            phone.send(wire.control({"type": "device", "online": False}))
        else:
            self._announce(link, phone)

    def detach_phone(self, phone: PhoneSocket) -> None:
        conns = self.phones.get(phone.device_id, {})
        if conns.get(phone.conn) is phone:
            del conns[phone.conn]
            if not conns:
                self.phones.pop(phone.device_id, None)
            link = self.links.get(phone.device_id)
            if link is not None:
                link.send(wire.close_frame(phone.conn, 1000, "phone left").encode())

    def from_phone(self, phone: PhoneSocket, data: bytes) -> None:
        if phone.closing:
            return  # revoked or refused: nothing more of it reaches the daemon
        link = self.links.get(phone.device_id)
        if link is None:
            return  # the device is offline; the phone restarts its handshake when it returns
        frame = wire.LinkFrame(wire.LinkType.DATA, phone.conn, data).encode()
        if not link.send(frame, owner=phone.conn):
            self._overflow(phone)

    def close_phones(self, device_id: str, kind: str, ident: str, code: int, reason: str) -> int:
        closed = 0
        for phone in list(self.phones.get(device_id, {}).values()):
            if phone.kind == kind and phone.ident == ident:
                phone.close(code, reason, flush=False)
                closed += 1
        return closed

    def connected_phone_ids(self, device_id: str) -> set[str]:
        return {p.ident for p in self.phones.get(device_id, {}).values() if p.kind == "phone"}

    def _announce(self, link: Socket, phone: PhoneSocket) -> None:
        link.send(wire.open_frame(phone.conn, phone.kind, phone.ident).encode())
        phone.send(wire.control({"type": "device", "online": True}))
        if self._on_phone_seen is not None:
            self._on_phone_seen(phone)

    def _overflow(self, phone: PhoneSocket) -> None:
        log.warning("phone connection %s of %s overran its queue", phone.conn, phone.device_id)
        phone.close(wire.Close.FLOOD, "queue bound exceeded", flush=False)


async def pump(socket: Socket, on_message: Callable[[Mapping[str, object]], None]) -> None:
    """Run ``socket``'s writer and feed every received message to ``on_message`` until the
    peer goes or the writer closes the socket."""
    writer = asyncio.create_task(socket.write_loop())
    try:
        while True:
            message = await socket.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            on_message(message)
            if writer.done():
                return
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    finally:
        if not writer.done():
            writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
