"""The daemon's outbound link to its relay (a :class:`~loopsy.daemon.services.Background`).

- Registers with the relay on first use (``POST /v1/devices``) and keeps the credential.
- Holds one WebSocket to ``/v1/device/connect``; reconnects with exponential backoff and
  full jitter (0.5 s .. 30 s); WebSocket pings every 20 s with a 20 s timeout notice a dead
  link within 40 s.
- A ``relay.url`` change (``loopsy relay configure``) closes the link and reconnects to the
  new relay at once, without a restart.
- Each phone connection the relay announces gets a :class:`PhoneConnection`.
- A relay that refuses the device credential (401: its database was reset, or a Worker's
  ``PAIR_TOKEN_SECRET`` was rotated) or the registration (a registration secret is
  missing or wrong) puts the link in the *rejected* state: no reconnecting in a loop (the
  credential is tried again every :data:`REJECTED_RECHECK` seconds, in case the relay
  comes back from a backup), the state and a fix in ``GET /relay``, ``loopsy relay
  status``, ``loopsy doctor`` and a ``relay.rejected`` event. The daemon does not
  register again by itself: that makes a new device, which the phones paired before do
  not know, so it waits for ``loopsy relay configure <url>`` (:meth:`RelayLink.renew`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from loopsy.config import Config
from loopsy.daemon.relay_link.refusal import (
    Rejected,
    credential_refused,
    registration_refused,
)
from loopsy.daemon.relay_link.registry import PhoneRegistry
from loopsy.protocol import relay as wire
from loopsy.protocol.errors import LoopsyError, NotFound, ProtocolError, Unavailable
from loopsy.protocol.pairing import (
    Credential,
    PairLink,
    PairOutcome,
    PairTicket,
    new_code,
    secret_hash,
)
from loopsy.protocol.phones import PairOffer, PairState, RelayStatus
from loopsy.protocol.relay import Refused

# The phone side (the end-to-end channel, with cryptography) and httpx are imported when
# first used: every daemon runs this link, most never with a relay or a phone, and the two
# are ~13 MB resident together.
if TYPE_CHECKING:
    import httpx

    from loopsy.daemon.relay_link.phone import PhoneConnection

log = logging.getLogger("loopsy.relay_link")

BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
REJECTED_RECHECK = 600.0


class RelayLink:
    def __init__(
        self,
        *,
        config: Callable[[], Config],
        registry: PhoneRegistry,
        app_factory: Callable[[], ASGIApp],
        clock: Callable[[], float],
        randbytes: Callable[[int], bytes],
    ) -> None:
        self.config = config
        self.registry = registry
        self.app_factory = app_factory
        self.clock = clock
        self.randbytes = randbytes
        self._app: ASGIApp | None = None
        self._ws: ClientConnection | None = None
        self._url: str | None = None
        self._changed = asyncio.Event()
        self._phones: dict[int, PhoneConnection] = {}
        self._tickets: dict[str, PairTicket] = {}
        self.connected_since: float | None = None
        self.last_error: str | None = None
        self.rejected: Rejected | None = None  # the relay's refusal, until renew() or a new URL
        self.retry_in: float | None = None  # seconds until the next attempt, while waiting
        self.device_id: str | None = None
        # Told when the link goes up or down: the daemon publishes it as an event.
        self.on_change: Callable[[str], None] = lambda kind: None

    # -- configuration ------------------------------------------------------------------

    def on_config(self, config: Config) -> None:
        if config.relay.url != self._url:
            self._changed.set()
            ws = self._ws
            if ws is not None:
                with contextlib.suppress(RuntimeError):  # no loop: nothing is connected
                    asyncio.get_running_loop().create_task(ws.close(1001, "relay changed"))

    def status(self) -> RelayStatus:
        url = self.config().relay.url
        device = self.registry.device_for(url) if url else None
        connected = self._ws is not None and self.connected_since is not None
        rejected = self.rejected is not None and self.rejected.url == url
        return RelayStatus(
            url=url,
            connected=connected,
            device_id=device.id if device else None,
            connected_since=self.connected_since,
            phones_online=len(self.online_phone_ids()),
            last_error=self.last_error,
            state="off"
            if url is None
            else "rejected"
            if rejected
            else "connected"
            if connected
            else "connecting",
        )

    def renew(self, *, force: bool = False) -> bool:
        """``loopsy relay configure`` of the relay that refused this daemon: register again
        (a new device id; the phones paired before must pair again) or, after a refused
        registration, try it again with the configuration as it is now. ``force`` registers
        again before any refusal (the credential is known to be void: a rotated Worker
        secret). False (and nothing done) unless the configured relay refused, or forced."""
        rejected = self.rejected
        url = self.config().relay.url
        refused_here = rejected is not None and rejected.url == url
        if url is None or not (force or refused_here):
            return False
        if force or (rejected is not None and not rejected.registering):
            self.registry.forget_device(url)
        self.rejected = None
        self.last_error = None
        self._changed.set()
        ws = self._ws
        if ws is not None:  # connected with the old credential: reconnect with the new one
            asyncio.get_running_loop().create_task(ws.close(1001, "registering again"))
        return True

    def _reject(self, refusal: Rejected) -> Rejected:
        if self.rejected is None or self.rejected.url != refusal.url:
            log.warning("relay %s: %s (%s)", refusal.url, refusal.message, refusal.hint)
            self.rejected = refusal
            self.last_error = refusal.message
            self.on_change("relay.rejected")
        return refusal

    def online_phone_ids(self) -> set[str]:
        return {
            p.ident for p in self._phones.values() if p.kind == "phone" and p.channel is not None
        }

    # -- the relay's HTTP API -----------------------------------------------------------

    async def _call(
        self, method: str, path: str, device: Credential | None, body: Any = None
    ) -> httpx.Response:
        url = self.config().relay.url
        if url is None:
            raise Unavailable(
                "no relay configured",
                hint="`loopsy relay configure <url>`, or `loopsy up` for a local relay",
            )
        import httpx

        headers = {"Authorization": f"Bearer {device}"} if device else {}
        secret = self.config().relay.registration_secret
        if device is None and secret:
            headers["X-Loopsy-Registration"] = secret
        try:
            async with httpx.AsyncClient(base_url=url, timeout=15) as http:
                response = await http.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the relay at {url} does not answer: {exc}") from None
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {response.status_code}"
            if response.status_code == 404:
                raise NotFound(f"relay: {message}")
            if response.status_code == 401:
                raise self._reject(
                    registration_refused(url, message)
                    if device is None
                    else credential_refused(url, device.id)
                )
            raise Unavailable(f"relay: {message} (HTTP {response.status_code})")
        return response

    async def device(self) -> Credential:
        """This daemon's credential on the configured relay, registering on first use."""
        url = self.config().relay.url
        if url is None:
            raise Unavailable(
                "no relay configured",
                hint="`loopsy relay configure <url>`, or `loopsy up` for a local relay",
            )
        existing = self.registry.device_for(url)
        if existing is not None:
            return existing
        response = await self._call("POST", "/v1/devices", None, {})
        try:
            credential = Credential.parse(response.json()["credential"], "device credential")
        except (ValueError, KeyError, TypeError, ProtocolError) as exc:
            raise Unavailable(f"the relay's registration answer is malformed: {exc}") from None
        self.registry.save_device(url, credential)
        return credential

    # -- pairing ------------------------------------------------------------------------

    async def start_pairing(self, ttl: float) -> PairOffer:
        url = self.config().relay.url
        device = await self.device()
        assert url is not None
        pair_id = self.randbytes(16).hex()
        token = self.randbytes(32)
        code = new_code(self.randbytes)
        response = await self._call(
            "POST",
            "/v1/pairs",
            device,
            {"pair_id": pair_id, "token_hash": secret_hash(token), "ttl": ttl},
        )
        granted = float(response.json().get("ttl", ttl))
        expires_at = self.clock() + min(ttl, granted)
        self._prune_tickets()
        self._tickets[pair_id] = PairTicket(pair_id, token, code, expires_at)
        link = PairLink(url, device.id, token, self.registry.static_public())
        return PairOffer(
            pair_id=pair_id, url=link.url(), code=code, expires_at=expires_at, ttl=min(ttl, granted)
        )

    def pair_state(self, pair_id: str) -> PairState:
        ticket = self._tickets.get(pair_id)
        if ticket is None:
            raise NotFound("no such pairing on this daemon (it may have expired)")
        state = ticket.state(self.clock())
        record = self.registry.get(ticket.phone_id) if ticket.phone_id else None
        return PairState(
            pair_id=pair_id,
            state=state,
            attempts_left=max(0, 5 - ticket.failures),
            phone_id=ticket.phone_id,
            phone_name=record.name if record else None,
        )

    def _ticket(self, pair_id: str) -> PairTicket | None:
        ticket = self._tickets.get(pair_id)
        return ticket if ticket is not None and ticket.usable(self.clock()) else None

    def _prune_tickets(self) -> None:
        now = self.clock()
        for pair_id, ticket in list(self._tickets.items()):
            if ticket.state(now) != PairOutcome.PENDING and now > ticket.expires_at + 3600:
                del self._tickets[pair_id]

    async def _register_phone(self, ticket: PairTicket, phone_id: str, secret: bytes) -> None:
        body = {
            "pair_id": ticket.pair_id,
            "phone_id": phone_id,
            "credential_hash": secret_hash(secret),
        }
        await self._call("POST", "/v1/phones", await self.device(), body)

    async def _burn(self, ticket: PairTicket) -> None:
        with contextlib.suppress(LoopsyError):
            await self._call("DELETE", f"/v1/pairs/{ticket.pair_id}", await self.device())

    # -- phones -------------------------------------------------------------------------

    async def revoke(self, phone_id: str) -> bool:
        url = self.config().relay.url
        if not self.registry.remove(phone_id, url):
            return False
        for conn, phone in list(self._phones.items()):
            if phone.kind == "phone" and phone.ident == phone_id:
                await self._drop(conn, wire.Close.REVOKED, "revoked")
        if url is not None:
            await self._push_revocations(url)
        return True

    async def _push_revocations(self, url: str) -> None:
        for phone_id in self.registry.pending_revocations(url):
            try:
                await self._call("DELETE", f"/v1/phones/{phone_id}", await self.device())
            except NotFound:
                pass  # the relay had already forgotten it
            except LoopsyError as exc:
                log.warning("relay revocation of %s pending: %s", phone_id, exc)
                continue
            self.registry.revocation_done(url, phone_id)

    # -- the link -----------------------------------------------------------------------

    async def run(self) -> None:
        attempt = 0
        while True:
            self._changed.clear()
            url = self.config().relay.url
            self._url = url
            if url is None:
                await self._changed.wait()
                continue
            try:
                await self._serve(url)
                attempt = 0
            except Rejected:
                pass  # recorded where the relay answered 401
            except InvalidStatus as exc:
                device = self.registry.device_for(url)
                if exc.response.status_code == 401 and device is not None:
                    self._reject(credential_refused(url, device.id))
                else:
                    self._failed(url, exc)
            except (OSError, TimeoutError, LoopsyError, ConnectionClosed) as exc:
                self._failed(url, exc)
            if self.rejected is not None and self.rejected.url == url:
                delay = REJECTED_RECHECK  # not in a loop: the relay will not change its mind
            else:
                attempt += 1
                delay = random.uniform(0, min(BACKOFF_MAX, BACKOFF_MIN * 2**attempt))  # noqa: S311
            self.retry_in = delay
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._changed.wait()
            self.retry_in = None

    def _failed(self, url: str, exc: BaseException) -> None:
        self.last_error = str(exc) or type(exc).__name__
        log.warning("relay link to %s: %s", url, self.last_error)
        self.on_change("relay.error")

    async def _serve(self, url: str) -> None:
        device = await self.device()
        self.device_id = device.id
        ws_url = url.replace("http", "ws", 1) + "/v1/device/connect"
        async with connect(
            ws_url,
            subprotocols=[Subprotocol(p) for p in wire.device_protocols(device)],
            compression=None,
            max_size=wire.MAX_MESSAGE + wire.LINK_HEADER.size,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            open_timeout=15,
        ) as ws:
            self._ws = ws
            self.connected_since = self.clock()
            self.last_error = None
            self.rejected = None  # the relay knows us (again: e.g. restored from a backup)
            log.info("relay link up: %s as device %s", url, device.id)
            self.on_change("relay.connected")
            try:
                await self._push_revocations(url)
                async for message in ws:
                    if isinstance(message, bytes):
                        await self._from_relay(message)
            finally:
                self._ws = None
                self.connected_since = None
                self.on_change("relay.disconnected")
                for conn in list(self._phones):
                    await self._forget(conn)

    async def _from_relay(self, data: bytes) -> None:
        try:
            frame = wire.LinkFrame.decode(data)
        except ProtocolError as exc:
            log.warning("malformed frame from the relay: %s", exc)
            return
        if frame.type == wire.LinkType.OPEN:
            await self._open(frame)
        elif frame.type == wire.LinkType.CLOSE:
            await self._forget(frame.conn)
        else:
            phone = self._phones.get(frame.conn)
            if phone is None:
                return
            try:
                await phone.receive(frame.body)
            except Refused as refusal:
                await self._drop(frame.conn, refusal.code, refusal.reason)
            except ConnectionClosed:
                raise  # the link itself is gone: reconnect
            except Exception:  # one phone's failure must not take the link down
                log.exception("phone connection %s failed", frame.conn)
                await self._drop(frame.conn, 1011, "internal error")

    async def _open(self, frame: wire.LinkFrame) -> None:
        from loopsy.daemon.relay_link.phone import PairingHooks, PhoneConnection

        try:
            kind, ident = wire.decode_open(frame.body)
        except ProtocolError as exc:
            log.warning("bad OPEN from the relay: %s", exc)
            return
        await self._forget(frame.conn)  # re-announced after a link replacement: start over
        if self._app is None:
            self._app = self.app_factory()
        assert self.device_id is not None
        self._phones[frame.conn] = PhoneConnection(
            conn=frame.conn,
            kind=kind,
            ident=ident,
            device_id=self.device_id,
            registry=self.registry,
            app=self._app,
            send=self._sender(frame.conn),
            send_framed=self._framed_sender(frame.conn),
            randbytes=self.randbytes,
            hooks=PairingHooks(
                ticket=self._ticket,
                register_phone=self._register_phone,
                burn=self._burn,
                node_name=lambda: self.config().node.name,
            ),
        )

    def _sender(self, conn: int) -> Callable[[bytes], Awaitable[None]]:
        async def send(data: bytes) -> None:
            await self._send(wire.LinkFrame(wire.LinkType.DATA, conn, data))

        return send

    def _framed_sender(self, conn: int) -> Callable[[bytearray], Awaitable[None]]:
        """Sends a DATA frame whose first ``LINK_HEADER.size`` bytes are left for the
        routing header (written here, in place): the body is never copied into a frame."""

        async def send(frame: bytearray) -> None:
            ws = self._ws
            if ws is None:
                raise ConnectionResetError("the relay link is down")  # the phone reconnects
            wire.LINK_HEADER.pack_into(frame, 0, wire.LinkType.DATA, conn)
            await ws.send(frame)

        return send

    async def _send(self, frame: wire.LinkFrame) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionResetError("the relay link is down")  # the phone will reconnect
        await ws.send(frame.encode())

    async def _forget(self, conn: int) -> None:
        """Close a phone connection; a phone that was online is said to have left (the
        dashboard's online count and the Phones tab follow the ``phones`` events)."""
        phone = self._phones.pop(conn, None)
        if phone is None:
            return
        online = phone.kind == "phone" and phone.channel is not None
        await phone.close()
        if online:
            self.registry.on_change("phone.left", phone.ident)

    async def _drop(self, conn: int, code: int, reason: str) -> None:
        await self._forget(conn)
        with contextlib.suppress(ConnectionClosed, ConnectionResetError):
            await self._send(wire.close_frame(conn, code, reason))
