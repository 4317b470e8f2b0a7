"""Wire models of the LAN mesh: node identity, the peer registry, and the pairing exchange.

The pairing cryptography is in :mod:`loopsy.protocol.peer_pairing`; these are the JSON
bodies that carry it between daemons (``/pair/*``, public) and between the CLI and its own
daemon (``/peers/pairing/*``, local only).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loopsy.protocol.models import RequestModel, ResponseModel

PeerStatusValue = Literal["online", "offline", "unknown"]
PairingRole = Literal["responder", "initiator"]
PairingStateValue = Literal[
    "idle", "waiting", "committed", "code_ready", "verified", "done", "failed", "expired"
]

_ID = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
_NAME = Field(min_length=1, max_length=63)


class NodeHello(ResponseModel):
    """Who answers on a mesh port (public, like the mDNS TXT record it mirrors)."""

    service: str = "loopsy"
    node_id: str
    name: str
    version: str
    capabilities: list[str]
    fingerprint: str = Field(description="SHA-256 of the peer TLS certificate (hex)")


# -- between daemons (public routes; the secrets travel sealed) -----------------------------


class PairCommit(RequestModel):
    node_id: str = _ID
    name: str = _NAME
    commitment: str = Field(min_length=1, max_length=64)


class PairAnswer(ResponseModel):
    pair_id: str
    node_id: str
    name: str
    public_key: str
    nonce: str


class PairReveal(RequestModel):
    pair_id: str = Field(min_length=1, max_length=64)
    public_key: str = Field(min_length=1, max_length=128)
    nonce: str = Field(min_length=1, max_length=64)


class PairFinish(RequestModel):
    pair_id: str = Field(min_length=1, max_length=64)
    sealed: str = Field(min_length=1, max_length=65536)


class PairSealed(ResponseModel):
    sealed: str


class Grant(RequestModel):
    """What each side hands the other inside the sealed message: a credential made for that
    peer only, and the certificate its TLS listener will present (pinned from now on)."""

    node_id: str = _ID
    name: str = _NAME
    credential: str = Field(min_length=32, max_length=128)
    cert_pem: str = Field(min_length=64, max_length=16384)
    port: int = Field(ge=1, le=65535)


# -- between the CLI and its own daemon (local only) -----------------------------------------


class PairListen(RequestModel):
    timeout: float = Field(300.0, gt=0, le=3600, description="Seconds the window stays open")


class PairConnect(RequestModel):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)


class PairVerify(RequestModel):
    code: str | None = Field(None, max_length=16, description="The code shown on the other side")
    accept: bool = Field(True, description="False: the codes differ; abort")


class PairWait(RequestModel):
    seen: str = Field("", max_length=32, description="Return as soon as the state is not this")
    wait: float = Field(25.0, ge=0, le=60)


class PairingStatus(ResponseModel):
    role: PairingRole | None = None
    state: PairingStateValue = "idle"
    code: str | None = None
    peer_id: str | None = None
    peer_name: str | None = None
    peer_address: str | None = None
    expires_at: float | None = None
    wrong_codes_left: int | None = None
    error: str | None = None
    listen: list[str] = Field(
        default_factory=list, description="host:port pairs the other machine can pair with"
    )


# -- the registry ------------------------------------------------------------------------------


class PeerInfo(ResponseModel):
    id: str
    name: str
    host: str | None = None
    port: int | None = None
    paired: bool
    status: PeerStatusValue = "unknown"
    latency_ms: float | None = None
    last_seen: float | None = None
    last_error: str | None = None
    fingerprint: str | None = None
    version: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    source: Literal["paired", "manual", "mdns"] = "paired"
    paired_at: float | None = None


class PeerList(ResponseModel):
    peers: list[PeerInfo]


class PeerAdd(RequestModel):
    host: str = Field(min_length=1, max_length=255)
    port: int | None = Field(None, ge=1, le=65535)


class PeerQuery(RequestModel):
    refresh: bool = False


class PeerEndpoint(ResponseModel):
    """How this machine's own clients reach a paired peer: local callers only, because it
    carries the credential the peer issued to this machine."""

    node_id: str
    name: str
    host: str
    port: int
    credential: str
    cert_pem: str
