"""The relay's three WebSockets: a daemon's link, a pairing phone, a paired phone.

Credentials are checked before the upgrade (an HTTP refusal: 400, 401, 404 or 429); after
it, each socket is pumped by :func:`loopsy.relay.hub.pump` and routed by the hub.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from loopsy.protocol import relay as wire
from loopsy.protocol.errors import ProtocolError
from loopsy.relay.hub import PhoneSocket, Socket, pump
from loopsy.relay.problems import ApiProblem, deny

if TYPE_CHECKING:
    from loopsy.relay.app import Relay


class RelaySockets:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    def _auth(self, websocket: WebSocket, kind: str) -> wire.PresentedAuth:
        self.relay.limit_failures(websocket.scope)
        protocols = wire.offered_protocols(
            v for k, v in websocket.headers.items() if k == "sec-websocket-protocol"
        )
        if wire.SUBPROTOCOL not in protocols:
            raise ApiProblem(400, "bad_request", f"offer the subprotocol {wire.SUBPROTOCOL}")
        authorization = websocket.headers.get("authorization") if kind == "device" else None
        try:
            auth = wire.parse_auth(protocols, authorization)
        except ProtocolError as exc:
            raise self.relay.refuse_credential(websocket.scope, str(exc)) from None
        if auth.kind != kind:
            raise self.relay.refuse_credential(
                websocket.scope, f"this route takes a {kind} credential"
            )
        return auth

    async def device_socket(self, websocket: WebSocket) -> None:
        try:
            auth = self._auth(websocket, "device")
            assert auth.credential is not None
            if not self.relay.store.check_device(auth.credential.id, auth.credential.secret):
                raise self.relay.refuse_credential(
                    websocket.scope, "unknown device or wrong credential"
                )
        except ApiProblem as problem:
            await deny(websocket, problem)
            return
        await websocket.accept(subprotocol=wire.SUBPROTOCOL)
        link = Socket(websocket, auth.credential.id)
        self.relay.store.touch_device(link.device_id, self.relay.clock())
        self.relay.hub.attach_device(link)

        def on_message(message: Mapping[str, object]) -> None:
            data = message.get("bytes")
            if isinstance(data, bytes):
                self.relay.hub.from_device(link, data)
            else:
                link.close(wire.Close.PROTOCOL, "the daemon link carries binary frames only")

        try:
            await pump(link, on_message)
        finally:
            self.relay.hub.detach_device(link)
            self.relay.store.touch_device(link.device_id, self.relay.clock())

    async def pair_socket(self, websocket: WebSocket) -> None:
        try:
            auth = self._auth(websocket, "pair")
            assert auth.token is not None
            pair = self.relay.store.admit_pair_connection(
                hashlib.sha256(auth.token).hexdigest(), self.relay.clock()
            )
            if pair is None:
                raise ApiProblem(404, "not_found", "pair token unknown, used, expired or burned")
        except ApiProblem as problem:
            await deny(websocket, problem)
            return
        await self._serve_phone(websocket, pair.device_id, "pair", pair.pair_id)

    async def phone_socket(self, websocket: WebSocket) -> None:
        try:
            auth = self._auth(websocket, "phone")
            assert auth.credential is not None and auth.device_id is not None
            ok = self.relay.store.check_phone(
                auth.device_id, auth.credential.id, auth.credential.secret
            )
            if not ok:
                raise self.relay.refuse_credential(
                    websocket.scope, "unknown phone or wrong credential"
                )
        except ApiProblem as problem:
            await deny(websocket, problem)
            return
        await self._serve_phone(websocket, auth.device_id, "phone", auth.credential.id)

    async def _serve_phone(
        self, websocket: WebSocket, device_id: str, kind: str, ident: str
    ) -> None:
        await websocket.accept(subprotocol=wire.SUBPROTOCOL)
        phone = PhoneSocket(
            websocket, device_id, conn=self.relay.hub.new_conn_id(), kind=kind, ident=ident
        )
        self.relay.hub.attach_phone(phone)

        def on_message(message: Mapping[str, object]) -> None:
            data = message.get("bytes")
            if isinstance(data, bytes) and len(data) > wire.MAX_MESSAGE:
                # uvicorn's limit also has room for the daemon link's 5-byte header
                phone.close(wire.Close.TOO_BIG, "message too large", flush=False)
            elif isinstance(data, bytes):
                self.relay.hub.from_phone(phone, data)
            else:
                phone.close(wire.Close.PROTOCOL, "phones send binary frames only", flush=False)

        try:
            await pump(phone, on_message)
        finally:
            self.relay.hub.detach_phone(phone)
