"""Pairing routes. ``/pair/*`` are public and answer only on the peer TLS listener: the
other daemon has no credential yet, and what matters travels sealed. ``/peers/pairing/*``
drive this machine's side and are for the local user only (the unix socket).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from loopsy.daemon.auth import TRANSPORT_KEY
from loopsy.daemon.endpoints import Call, endpoint
from loopsy.daemon.services import Services
from loopsy.mesh.service import Mesh
from loopsy.protocol.errors import Conflict, NotFound, Unavailable
from loopsy.protocol.models import Ok, RequestModel
from loopsy.protocol.peers import (
    PairAnswer,
    PairCommit,
    PairConnect,
    PairFinish,
    PairingStatus,
    PairListen,
    PairReveal,
    PairSealed,
    PairVerify,
    PairWait,
)

LOCAL = ("local",)
TAGS = ("pairing",)


class PairAbort(RequestModel):
    pair_id: str


class PairDecision(RequestModel):
    accept: bool
    # The code the user was shown: decide that attempt only.
    code: str | None = Field(None, pattern=r"^[0-9]{6}$")


def mesh_of(services: Services) -> Mesh:
    if services.mesh is None:
        raise Unavailable("the mesh is not available in this daemon")
    return services.mesh


def _listening(services: Services) -> Mesh:
    """The mesh, if its peer listener runs: both machines of a pair must listen, since each
    calls the other afterwards (and the grant tells the other machine our peer port)."""
    mesh = mesh_of(services)
    if not mesh.listening:
        raise Conflict(
            "this daemon does not listen for peers",
            hint="restart it with `loopsy start --lan` (or set mesh.listen: true)",
        )
    return mesh


def _from_peer_listener(call: Call[Any, Any]) -> Mesh:
    if call.request.scope.get(TRANSPORT_KEY) != "mesh":
        raise NotFound("no such route", hint="pairing answers on the peer (mesh) port only")
    return mesh_of(call.services)


def _address(call: Call[Any, Any]) -> str:
    client = call.request.client
    return client.host if client else "unknown"


@endpoint(
    "POST",
    "/pair/commit",
    summary="Pairing step 1: a commitment to a key",
    body=PairCommit,
    response=PairAnswer,
    public=True,
    tags=TAGS,
)
async def pair_commit(call: Call[PairCommit, None]) -> PairAnswer:
    """The initiator's commitment H(key ‖ nonce); answered with this node's key and nonce."""
    return _from_peer_listener(call).pairing.on_commit(call.body, _address(call))


@endpoint(
    "POST",
    "/pair/reveal",
    summary="Pairing step 2: reveal the committed key",
    body=PairReveal,
    response=Ok,
    public=True,
    tags=TAGS,
)
async def pair_reveal(call: Call[PairReveal, None]) -> Ok:
    """The initiator's key and nonce; checked against the commitment. The code is now shown
    on this machine."""
    _from_peer_listener(call).pairing.on_reveal(call.body)
    return Ok()


@endpoint(
    "POST",
    "/pair/finish",
    summary="Pairing step 3: exchange sealed grants",
    body=PairFinish,
    response=PairSealed,
    public=True,
    tags=TAGS,
)
async def pair_finish(call: Call[PairFinish, None]) -> PairSealed:
    """The initiator's sealed grant; held until this machine's user accepts the code, then
    answered with this machine's sealed grant."""
    return await _from_peer_listener(call).pairing.on_finish(call.body, _address(call))


@endpoint(
    "POST",
    "/pair/abort",
    summary="Pairing: the initiator gives up",
    body=PairAbort,
    response=Ok,
    public=True,
    tags=TAGS,
)
async def pair_abort(call: Call[PairAbort, None]) -> Ok:
    """Sent when the code was typed wrong too often on the initiator."""
    _from_peer_listener(call).pairing.abort(call.body.pair_id)
    return Ok()


@endpoint(
    "POST",
    "/peers/pairing/listen",
    summary="Wait for a machine to pair (loopsy pair)",
    body=PairListen,
    response=PairingStatus,
    callers=LOCAL,
    tags=TAGS,
)
async def pairing_listen(call: Call[PairListen, None]) -> PairingStatus:
    """Open a pairing window on this machine for ``timeout`` seconds."""
    mesh = _listening(call.services)
    from loopsy.mesh.discovery import lan_addresses

    status = mesh.pairing.listen(call.body.timeout)
    status.listen = [f"{host}:{mesh.port}" for host in lan_addresses(mesh.host)]
    return status


@endpoint(
    "GET",
    "/peers/pairing",
    summary="The pairing in progress (long poll)",
    query=PairWait,
    response=PairingStatus,
    callers=LOCAL,
    tags=TAGS,
)
async def pairing_status(call: Call[None, PairWait]) -> PairingStatus:
    """Returns at once if the state differs from ``seen``, else when it changes or after
    ``wait`` seconds."""
    return await mesh_of(call.services).pairing.wait(call.query.seen, call.query.wait)


@endpoint(
    "POST",
    "/peers/pairing/decide",
    summary="Accept or reject the code shown here",
    body=PairDecision,
    response=PairingStatus,
    callers=LOCAL,
    tags=TAGS,
)
async def pairing_decide(call: Call[PairDecision, None]) -> PairingStatus:
    """The user on the waiting machine says whether the other screen shows the same code."""
    return mesh_of(call.services).pairing.decide(call.body.accept, call.body.code)


@endpoint(
    "DELETE",
    "/peers/pairing",
    summary="Cancel the pairing window",
    response=PairingStatus,
    callers=LOCAL,
    tags=TAGS,
)
async def pairing_cancel(call: Call[None, None]) -> PairingStatus:
    """Close the window opened by ``loopsy pair``."""
    return mesh_of(call.services).pairing.cancel()


@endpoint(
    "POST",
    "/peers/pairing/connect",
    summary="Start pairing with a waiting machine",
    body=PairConnect,
    response=PairingStatus,
    callers=LOCAL,
    tags=TAGS,
)
async def pairing_connect(call: Call[PairConnect, None]) -> PairingStatus:
    """Run the key agreement with HOST:PORT (its peer port); the code is then shown there."""
    return await _listening(call.services).pairing.connect(call.body.host, call.body.port)


@endpoint(
    "POST",
    "/peers/pairing/verify",
    summary="Give the code shown on the other machine",
    body=PairVerify,
    response=PairingStatus,
    callers=LOCAL,
    tags=TAGS,
)
async def pairing_verify(call: Call[PairVerify, None]) -> PairingStatus:
    """Check the typed code (3 tries), then exchange credentials once the other side's user
    accepts too. Blocks until then."""
    return await mesh_of(call.services).pairing.verify(call.body.code, call.body.accept)


routes = [
    pair_commit,
    pair_reveal,
    pair_finish,
    pair_abort,
    pairing_listen,
    pairing_status,
    pairing_decide,
    pairing_cancel,
    pairing_connect,
    pairing_verify,
]
