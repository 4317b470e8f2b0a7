"""Pairing, the I/O side: the responder's window (``loopsy pair``) and the initiator's run
(``loopsy pair HOST``) around the sans-I/O :mod:`loopsy.protocol.peer_pairing`.

Limits: a window lives ``timeout`` seconds, takes at most :data:`MAX_ATTEMPTS` commitments
and :data:`MAX_REJECTIONS` codes rejected by the user, then burns; the initiator burns after
:data:`~loopsy.protocol.peer_pairing.MAX_WRONG_CODES` wrong codes typed. One attempt at a
time: a second commitment while one is under way is refused, so nobody can swap the key a
user is looking at.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import ValidationError

from loopsy.mesh.calls import post_step, tls_fingerprint, unpinned_http
from loopsy.mesh.certificate import PeerCertificate
from loopsy.mesh.registry import PeerRegistry
from loopsy.protocol.errors import (
    ApiError,
    BadRequest,
    ChannelError,
    Conflict,
    Forbidden,
    NotFound,
    ProtocolError,
)
from loopsy.protocol.peer_pairing import (
    MAX_WRONG_CODES,
    NONCE_BYTES,
    Initiator,
    PairingState,
    Responder,
)
from loopsy.protocol.peers import (
    Grant,
    PairAnswer,
    PairCommit,
    PairFinish,
    PairingStateValue,
    PairingStatus,
    PairReveal,
    PairSealed,
)

log = logging.getLogger("loopsy.mesh")

MAX_ATTEMPTS = 5
MAX_REJECTIONS = 3
FINISH_TIMEOUT = 300.0


def _scalar() -> bytes:
    return secrets.token_bytes(32)


@dataclass
class Identity:
    """What this node says about itself in a grant."""

    node_id: Callable[[], str]
    name: Callable[[], str]
    port: Callable[[], int]
    certificate_source: Callable[[], PeerCertificate]


@dataclass
class _Window:
    expires_at: float
    attempts: int = 0
    rejections: int = 0
    responder: Responder | None = None
    peer_name: str | None = None
    peer_address: str | None = None
    decided: anyio.Event = field(default_factory=anyio.Event)
    accepted: bool = False
    state: PairingStateValue = "waiting"
    error: str | None = None
    ended: dict[str, str] = field(default_factory=dict)  # pair_id -> why (one per attempt)


@dataclass
class _Run:
    initiator: Initiator
    host: str
    port: int
    peer_name: str
    seen_fingerprint: str | None
    state: PairingStateValue = "code_ready"
    error: str | None = None


class Pairing:
    def __init__(
        self,
        identity: Identity,
        registry: PeerRegistry,
        clock: Callable[[], float],
        on_event: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self.identity = identity
        self.registry = registry
        self.clock = clock
        self.on_event = on_event
        self._window: _Window | None = None
        self._run: _Run | None = None
        self._changed = anyio.Event()

    # -- observing ---------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    def status(self) -> PairingStatus:
        window, run = self._window, self._run
        if window is not None:
            live = window.state in ("waiting", "committed", "code_ready", "verified")
            if live and self.clock() > window.expires_at:
                window.state, window.error = "expired", "the pairing window expired"
            responder = window.responder
            code_ready = responder is not None and responder.keys is not None
            return PairingStatus(
                role="responder",
                state=window.state,
                code=responder.code if code_ready and responder else None,
                peer_id=responder.peer_id if responder else None,
                peer_name=window.peer_name,
                peer_address=window.peer_address,
                expires_at=window.expires_at,
                error=window.error,
            )
        if run is not None:
            init = run.initiator
            return PairingStatus(
                role="initiator",
                state=run.state,
                code=None,  # the initiator's user must read the code from the other screen
                peer_id=init.peer_id,
                peer_name=run.peer_name,
                peer_address=f"{run.host}:{run.port}",
                wrong_codes_left=MAX_WRONG_CODES - init.wrong_codes,
                error=run.error,
            )
        return PairingStatus()

    async def wait(self, seen: str, within: float) -> PairingStatus:
        """Long poll: return when the state is no longer ``seen`` or after ``within`` s."""
        with anyio.move_on_after(within):
            while self.status().state == seen:
                await self._changed.wait()
        return self.status()

    # -- responder (machine A) ---------------------------------------------------------------

    def listen(self, timeout: float) -> PairingStatus:
        self._run = None
        self._window = _Window(expires_at=self.clock() + timeout)
        self._notify()
        return self.status()

    def cancel(self) -> PairingStatus:
        if self._window is not None and self._window.state not in ("done", "failed"):
            self._window.state, self._window.error = "failed", "cancelled"
            self._window.decided.set()
        self._notify()
        return self.status()

    def _open_window(self) -> _Window:
        window = self._window
        if window is None or window.state in ("done", "failed", "expired"):
            raise NotFound(
                "not waiting for a pairing",
                hint="run `loopsy pair` on it first, then `loopsy pair HOST` here",
            )
        if self.clock() > window.expires_at:
            window.state, window.error = "expired", "the pairing window expired"
            self._notify()
            raise NotFound("the pairing window expired", hint="run `loopsy pair` again")
        return window

    def on_commit(self, body: PairCommit, address: str) -> PairAnswer:
        window = self._open_window()
        if window.state != "waiting":
            raise Conflict("another pairing attempt is in progress on this machine")
        if window.attempts >= MAX_ATTEMPTS:
            self._burn(window, "too many pairing attempts")
            raise Forbidden("too many pairing attempts; the window is closed")
        window.attempts += 1
        responder = Responder(
            self.identity.node_id(),
            secrets.token_hex(16),
            _scalar(),
            secrets.token_bytes(NONCE_BYTES),
        )
        try:
            answer = responder.receive_commit(body.node_id, body.commitment)
        except ProtocolError as exc:
            raise BadRequest(exc.message) from None
        window.responder = responder
        window.peer_name = body.name
        window.peer_address = address
        window.state = "committed"
        window.decided = anyio.Event()
        self._notify()
        return PairAnswer(node_id=self.identity.node_id(), name=self.identity.name(), **answer)

    def _attempt(self, pair_id: str) -> tuple[_Window, Responder]:
        window = self._open_window()
        responder = window.responder
        if pair_id in window.ended:
            raise Forbidden(window.ended[pair_id], hint="run the pairing again on both machines")
        if responder is None or not secrets.compare_digest(responder.pair_id, pair_id):
            raise NotFound("no such pairing attempt (it may have been replaced or burnt)")
        return window, responder

    def on_reveal(self, body: PairReveal) -> None:
        window, responder = self._attempt(body.pair_id)
        try:
            responder.receive_reveal(body.public_key, body.nonce)
        except ChannelError as exc:
            self._end_attempt(window, exc.message)
            raise Forbidden(exc.message) from None
        except ProtocolError as exc:
            raise BadRequest(exc.message) from None
        window.state = "code_ready"
        self._notify()

    def decide(self, accept: bool, code: str | None = None) -> PairingStatus:
        """The user's answer; ``code``, the code they were shown, binds it to that attempt
        (one that ended while they looked, replaced by another, is not decided blindly)."""
        window = self._open_window()
        responder = window.responder
        if window.state != "code_ready" or responder is None:
            raise Conflict("there is no code to accept yet", hint="wait for the other machine")
        if code is not None and not secrets.compare_digest(responder.code, code):
            raise Conflict(
                "that code belongs to an attempt that has ended",
                hint="decide on the code shown now",
            )
        if accept:
            responder.accept()
            window.state, window.accepted = "verified", True
        else:
            window.rejections += 1
            self._end_attempt(window, "the code was rejected on the waiting machine")
            if window.rejections >= MAX_REJECTIONS:
                self._burn(window, "too many rejected codes")
        window.decided.set()
        self._notify()
        return self.status()

    def abort(self, pair_id: str) -> None:
        window, _ = self._attempt(pair_id)
        self._end_attempt(window, "the other machine gave up (wrong code typed there)")
        window.decided.set()
        self._notify()

    async def on_finish(self, body: PairFinish, address: str) -> PairSealed:
        window, responder = self._attempt(body.pair_id)
        if window.state not in ("code_ready", "verified"):
            raise Conflict("the code has not been agreed yet")
        try:
            grant = Grant.model_validate(responder.open_grant(body.sealed))
        except ChannelError as exc:
            self._end_attempt(window, exc.message)
            raise Forbidden(exc.message) from None
        except ValidationError:
            self._end_attempt(window, "the other machine sent a malformed grant")
            raise BadRequest("the sealed grant is malformed") from None
        if grant.node_id != responder.peer_id:
            self._end_attempt(window, "the grant names another node")
            raise Forbidden("the grant names another node than the commitment")
        with anyio.move_on_after(max(0.0, window.expires_at - self.clock())):
            await window.decided.wait()
        if window.responder is not responder or not window.accepted:
            raise Forbidden(
                "the code was not accepted on the other machine",
                hint="run the pairing again and compare the codes",
            )
        credential = secrets.token_urlsafe(32)
        peer = self.registry.save_paired(grant, address, credential, self.clock())
        sealed = responder.seal_grant(self._grant(credential))
        window.state = "done"
        self._notify()
        self.on_event("peer.paired", {"peer": peer.id, "name": peer.name, "role": "responder"})
        return PairSealed(sealed=sealed)

    def _end_attempt(self, window: _Window, reason: str) -> None:
        if window.responder is not None:
            window.ended[window.responder.pair_id] = reason
            window.responder.fail()
        window.responder = None
        window.accepted = False
        window.error = reason
        window.state = "waiting" if window.state not in ("done", "failed") else window.state

    def _burn(self, window: _Window, reason: str) -> None:
        window.responder = None
        window.state, window.error = "failed", reason
        self.on_event("pairing.burnt", {"reason": reason})

    def _grant(self, credential: str) -> dict[str, Any]:
        return Grant(
            node_id=self.identity.node_id(),
            name=self.identity.name(),
            credential=credential,
            cert_pem=self.identity.certificate_source().cert_pem,
            port=self.identity.port(),
        ).model_dump()

    # -- initiator (machine B) -----------------------------------------------------------------

    async def connect(self, host: str, port: int) -> PairingStatus:
        self._window = None
        initiator = Initiator(self.identity.node_id(), _scalar(), secrets.token_bytes(NONCE_BYTES))
        body = PairCommit(
            node_id=self.identity.node_id(),
            name=self.identity.name(),
            commitment=initiator.commit(),
        )
        async with unpinned_http(host, port) as http:
            response = await post_step(http, "/pair/commit", body.model_dump())
            seen = tls_fingerprint(response)
            try:
                answer = PairAnswer.model_validate_json(response.content)
                initiator.receive_answer(
                    answer.pair_id, answer.node_id, answer.public_key, answer.nonce
                )
            except (ValidationError, ProtocolError) as exc:
                raise BadRequest(f"{host}:{port} answered the pairing oddly: {exc}") from None
            await post_step(http, "/pair/reveal", {"pair_id": answer.pair_id, **initiator.reveal()})
        self._run = _Run(initiator, host, port, answer.name, seen)
        self._notify()
        return self.status()

    async def verify(self, code: str | None, accept: bool) -> PairingStatus:
        run = self._run
        if run is None or run.state != "code_ready":
            raise Conflict("no pairing is waiting for a code", hint="run `loopsy pair HOST` first")
        init = run.initiator
        async with unpinned_http(run.host, run.port) as http:
            if not accept or (code is not None and not init.check_code(code)):
                if not accept or init.state is PairingState.FAILED:
                    init.fail()
                    run.state = "failed"
                    run.error = "the code was rejected" if not accept else "too many wrong codes"
                    self._notify()
                    await post_step(http, "/pair/abort", {"pair_id": init.pair_id}, check=False)
                    raise Forbidden(run.error, hint="run the pairing again on both machines")
                left = MAX_WRONG_CODES - init.wrong_codes
                raise Forbidden(
                    f"wrong code; {left} attempt{'s' if left != 1 else ''} left",
                    hint="type the 6 digits `loopsy pair` shows on the other machine",
                )
            if code is None:
                init.accept()
            credential = secrets.token_urlsafe(32)
            sealed = init.seal_grant(self._grant(credential))
            run.state = "verified"
            self._notify()
            try:
                response = await post_step(
                    http,
                    "/pair/finish",
                    {"pair_id": init.pair_id, "sealed": sealed},
                    limit=FINISH_TIMEOUT,
                )
                grant = Grant.model_validate(
                    init.open_grant(PairSealed.model_validate_json(response.content).sealed)
                )
            except (ApiError, ChannelError, ValidationError) as exc:
                run.state, run.error = "failed", str(exc)
                self._notify()
                raise
        if grant.node_id != init.peer_id:
            run.state, run.error = "failed", "the grant names another node"
            raise Forbidden(run.error)
        if run.seen_fingerprint is not None and not secrets.compare_digest(
            run.seen_fingerprint, self._fingerprint_of(grant)
        ):
            run.state, run.error = "failed", "the TLS certificate differs from the one granted"
            raise Forbidden(run.error)
        peer = self.registry.save_paired(grant, run.host, credential, self.clock())
        run.state = "done"
        self._notify()
        self.on_event("peer.paired", {"peer": peer.id, "name": peer.name, "role": "initiator"})
        return self.status()

    @staticmethod
    def _fingerprint_of(grant: Grant) -> str:
        from loopsy.protocol.tls_pin import fingerprint

        return fingerprint(grant.cert_pem)
