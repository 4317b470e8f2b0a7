"""One phone connection through the relay: the handshake, then the tunnel.

A ``pair`` connection runs the IKpsk1 pairing handshake against the pending offer and ends
after message 2; a ``phone`` connection runs KK against the phone's pinned key and then
carries the tunnel until either side closes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.types import ASGIApp

from loopsy.daemon.auth import Caller
from loopsy.daemon.relay_link.registry import PhoneRegistry
from loopsy.daemon.relay_link.tunnel import TunnelServer
from loopsy.protocol.channel import Handshake, SecureChannel
from loopsy.protocol.errors import ChannelError, LoopsyError
from loopsy.protocol.noise import private_key
from loopsy.protocol.pairing import (
    PairGrant,
    PairRequest,
    PairTicket,
    pairing_prologue,
    session_prologue,
)
from loopsy.protocol.relay import LINK_HEADER, Close, Refused

log = logging.getLogger("loopsy.relay_link")


@dataclass
class PairingHooks:
    """What a pairing connection needs from the link (HTTP calls to the relay)."""

    ticket: Callable[[str], PairTicket | None]
    register_phone: Callable[[PairTicket, str, bytes], Awaitable[None]]
    burn: Callable[[PairTicket], Awaitable[None]]
    node_name: Callable[[], str]


class PhoneConnection:
    def __init__(
        self,
        *,
        conn: int,
        kind: str,
        ident: str,
        device_id: str,
        registry: PhoneRegistry,
        app: ASGIApp,
        send: Callable[[bytes], Awaitable[None]],
        send_framed: Callable[[bytearray], Awaitable[None]],
        randbytes: Callable[[int], bytes],
        hooks: PairingHooks,
    ) -> None:
        self.conn = conn
        self.kind = kind
        self.ident = ident  # phone id or pair id
        self.device_id = device_id
        self.registry = registry
        self.app = app
        self._send = send
        self._send_framed = send_framed
        self.randbytes = randbytes
        self.hooks = hooks
        self.channel: SecureChannel | None = None
        self.tunnel: TunnelServer | None = None
        self._handshake: Handshake | None = None

    @property
    def phone_id(self) -> str | None:
        return self.ident if self.kind == "phone" else None

    async def receive(self, data: bytes) -> None:
        """One binary message from the phone. Raises :class:`Refused` to close it."""
        if self.channel is None:
            await self._handshake_message(data)
            return
        try:
            plaintext = self.channel.open(data)
            assert self.tunnel is not None
            self.tunnel.receive(plaintext)
        except ChannelError as exc:
            raise Refused(Close.PROTOCOL, str(exc)) from None

    async def _handshake_message(self, data: bytes) -> None:
        if self._handshake is not None:
            raise Refused(Close.PROTOCOL, "handshake message out of turn")
        if self.kind == "pair":
            await self._pair(data)
        else:
            await self._session(data)

    async def _session(self, message1: bytes) -> None:
        record = self.registry.get(self.ident)
        if record is None or record.device_id != self.device_id:
            raise Refused(Close.UNAUTHORIZED, "unknown or revoked phone")
        handshake = Handshake.session(
            initiator=False,
            prologue=session_prologue(self.device_id, self.ident),
            static=self.registry.static_key(),
            ephemeral=private_key(self.randbytes(32)),
            remote_static=record.public_key,
        )
        self._handshake = handshake
        try:
            handshake.read(message1)
            message2 = handshake.write(b"")
        except ChannelError as exc:
            raise Refused(Close.UNAUTHORIZED, f"handshake failed: {exc}") from None
        self.channel = handshake.channel()
        self.tunnel = TunnelServer(self.app, Caller("phone", self.ident), self._send_sealed)
        self.registry.touch(self.ident)
        await self._send(message2)

    async def _pair(self, message1: bytes) -> None:
        ticket = self.hooks.ticket(self.ident)
        if ticket is None:
            raise Refused(Close.GONE, "this pairing is over; run `loopsy mobile pair` again")
        handshake = Handshake.pairing_responder(
            prologue=pairing_prologue(self.device_id),
            static=self.registry.static_key(),
            ephemeral=private_key(self.randbytes(32)),
            psk=ticket.psk,
        )
        self._handshake = handshake
        try:
            payload = handshake.read(message1)
        except ChannelError:
            # Any failed handshake counts: a wrong code, or a forged/garbled message 1.
            left = ticket.record_failure()
            if left == 0:
                await self.hooks.burn(ticket)
                raise Refused(Close.REVOKED, "wrong code; pairing burned") from None
            raise Refused(Close.REVOKED, f"wrong code ({left} left)") from None
        try:
            request = PairRequest.decode(payload)
        except ChannelError as exc:
            ticket.record_failure()
            raise Refused(Close.PROTOCOL, str(exc)) from None
        phone_key = handshake.remote_static
        assert phone_key is not None
        phone_id = self.randbytes(6).hex()
        credential = self.randbytes(32)
        try:
            await self.hooks.register_phone(ticket, phone_id, credential)
        except LoopsyError as exc:
            raise Refused(Close.UNAVAILABLE, f"the relay refused the phone: {exc}") from None
        self.registry.add(phone_id, request.name, phone_key, self.device_id)
        ticket.record_success(phone_id)
        grant = PairGrant(self.device_id, phone_id, credential, self.hooks.node_name())
        log.info("paired phone %s (%s)", phone_id, request.name)
        await self._send(handshake.write(grant.encode()))

    async def _send_sealed(self, plaintext: bytes) -> None:
        assert self.channel is not None
        # Sealed after room for the link's routing header: one buffer, filled in place.
        await self._send_framed(self.channel.seal_after(LINK_HEADER.size, plaintext))

    async def close(self) -> None:
        if self.tunnel is not None:
            await self.tunnel.close()
