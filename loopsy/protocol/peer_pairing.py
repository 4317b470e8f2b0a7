"""LAN pairing between two daemons, sans-I/O: ECDH P-256, a commitment, a 6-digit code.

Machine A runs ``loopsy pair`` (the *responder*, it waits); machine B runs ``loopsy pair
HOST`` (the *initiator*). Three messages agree the code, then one sealed message each way
carries the credentials, only after both users accepted the code::

    B (initiator)                                   A (responder)
    commit = H(pub_B ‖ nonce_B)  ── commit ──────►  stores the commitment
                                 ◄── pub_A, nonce_A, pair_id
    pub_B, nonce_B               ── reveal ──────►  checks H(pub_B ‖ nonce_B) == commit
    both: transcript = H(pair_id, both node ids, both keys, both nonces)
          okm = HKDF-SHA256(ECDH(a, B), salt=transcript) → key B→A, key A→B, code
    user on B types (or compares) the code that A shows; user on A accepts it
    seal(B→A, grant for A)       ── finish ──────►  (held until A's user accepts)
                                 ◄── seal(A→B, grant for B)

The commitment is what makes 6 digits enough: B fixes its key before seeing A's, and A
reveals its key before seeing B's, so a man in the middle cannot grind a key whose code
matches the other side's; each attempt succeeds with probability 10⁻⁶.

Nothing here opens a socket, reads a clock or makes randomness: private scalars and nonces
are given to the constructors (the I/O layer draws them from :mod:`secrets`).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopsy.protocol.errors import ChannelError, ProtocolError

# cryptography is imported by the functions that use it: the daemon imports this module at
# start (its mesh service), and ~8 MB of it are needed only once a pairing runs.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

VERSION = "loopsy-pair-v1"
CODE_DIGITS = 6
NONCE_BYTES = 32
MAX_WRONG_CODES = 3
MAX_SEALED_BYTES = 64 << 10


class PairingState(enum.Enum):
    START = "start"
    COMMITTED = "committed"  # initiator: commitment sent; responder: answered it
    CODE_READY = "code_ready"  # both keys known; the code can be shown
    VERIFIED = "verified"  # the user accepted the code
    DONE = "done"
    FAILED = "failed"


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str, *, field: str, size: int | None = None, max_size: int = 4096) -> bytes:
    if not isinstance(text, str) or len(text) > max_size * 2:
        raise ProtocolError(f"{field} is not a base64url string")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise ProtocolError(f"{field} is not valid base64url") from None
    if size is not None and len(data) != size:
        raise ProtocolError(f"{field} must be {size} bytes, not {len(data)}")
    return data


def commitment(public_key: bytes, nonce: bytes) -> bytes:
    return hashlib.sha256(VERSION.encode() + b"/commit" + public_key + nonce).digest()


def public_bytes(private: ec.EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def load_public(data: bytes, *, field: str) -> ec.EllipticCurvePublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        raise ProtocolError(f"{field} is not a P-256 point") from None


def private_from_scalar(scalar: bytes) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    value = int.from_bytes(scalar, "big")
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    if not 0 < value < order:
        raise ValueError("the private scalar is out of range for P-256")
    return ec.derive_private_key(value, ec.SECP256R1())


def ecdh(private: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    return private.exchange(ec.ECDH(), peer)


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def transcript_hash(
    pair_id: str,
    initiator_id: str,
    responder_id: str,
    initiator_key: bytes,
    responder_key: bytes,
    initiator_nonce: bytes,
    responder_nonce: bytes,
) -> bytes:
    """Everything both sides saw, length-prefixed so no two transcripts share bytes."""
    parts = [
        VERSION.encode(),
        pair_id.encode(),
        initiator_id.encode(),
        responder_id.encode(),
        initiator_key,
        responder_key,
        initiator_nonce,
        responder_nonce,
    ]
    return hashlib.sha256(b"".join(_field(p) for p in parts)).digest()


@dataclass(frozen=True)
class SessionKeys:
    initiator_to_responder: bytes
    responder_to_initiator: bytes
    code: str


def derive_keys(shared_secret: bytes, transcript: bytes) -> SessionKeys:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    okm = HKDF(
        algorithm=hashes.SHA256(), length=32 + 32 + 8, salt=transcript, info=VERSION.encode()
    ).derive(shared_secret)
    code_number = int.from_bytes(okm[64:72], "big") % (10**CODE_DIGITS)
    return SessionKeys(okm[:32], okm[32:64], f"{code_number:0{CODE_DIGITS}d}")


def seal(key: bytes, pair_id: str, direction: str, payload: dict[str, Any]) -> str:
    """Encrypt one message; each key seals exactly one message, so a zero nonce is safe."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    plaintext = json.dumps(payload, separators=(",", ":")).encode()
    aad = f"{VERSION}/{pair_id}/{direction}".encode()
    return b64e(AESGCM(key).encrypt(bytes(12), plaintext, aad))


def open_sealed(key: bytes, pair_id: str, direction: str, sealed: str) -> dict[str, Any]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not isinstance(sealed, str) or len(sealed) > MAX_SEALED_BYTES:
        raise ChannelError("sealed pairing message is missing or too large")
    data = b64d(sealed, field="sealed", max_size=MAX_SEALED_BYTES)
    aad = f"{VERSION}/{pair_id}/{direction}".encode()
    try:
        plaintext = AESGCM(key).decrypt(bytes(12), data, aad)
    except InvalidTag:
        raise ChannelError("the sealed pairing message does not authenticate") from None
    try:
        payload = json.loads(plaintext)
    except ValueError:
        raise ChannelError("the sealed pairing message is not JSON") from None
    if not isinstance(payload, dict):
        raise ChannelError("the sealed pairing message is not an object")
    return payload


class _Side:
    """What both roles share: the state, the keys once known, and sealing."""

    role: str
    state: PairingState
    keys: SessionKeys | None
    pair_id: str

    def _require(self, *states: PairingState) -> None:
        if self.state not in states:
            raise ProtocolError(
                f"pairing {self.role} is {self.state.value}, "
                f"expected {' or '.join(s.value for s in states)}"
            )

    @property
    def code(self) -> str:
        if self.keys is None:
            raise ProtocolError("the pairing code is not known yet")
        return self.keys.code

    def fail(self) -> None:
        self.state = PairingState.FAILED
        self.keys = None

    def _send_key(self) -> bytes:
        assert self.keys is not None
        if self.role == "initiator":
            return self.keys.initiator_to_responder
        return self.keys.responder_to_initiator

    def _receive_key(self) -> bytes:
        assert self.keys is not None
        if self.role == "initiator":
            return self.keys.responder_to_initiator
        return self.keys.initiator_to_responder


class Initiator(_Side):
    """Machine B: commits first, reveals after seeing A's key, then seals its grant."""

    role = "initiator"

    def __init__(self, node_id: str, scalar: bytes, nonce: bytes) -> None:
        if len(nonce) != NONCE_BYTES:
            raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
        self.node_id = node_id
        self._private = private_from_scalar(scalar)
        self.public_key = public_bytes(self._private)
        self.nonce = nonce
        self.state = PairingState.START
        self.keys = None
        self.pair_id = ""
        self.peer_id = ""
        self.wrong_codes = 0

    def commit(self) -> str:
        self._require(PairingState.START)
        self.state = PairingState.COMMITTED
        return b64e(commitment(self.public_key, self.nonce))

    def receive_answer(self, pair_id: str, responder_id: str, public_key: str, nonce: str) -> None:
        """A's key and nonce; after this the code is known here (and, after reveal, on A)."""
        self._require(PairingState.COMMITTED)
        if not pair_id or len(pair_id) > 64 or not responder_id or len(responder_id) > 64:
            raise ProtocolError("pair_id and node_id must be 1-64 characters")
        their_key = b64d(public_key, field="public_key", size=65)
        their_nonce = b64d(nonce, field="nonce", size=NONCE_BYTES)
        peer = load_public(their_key, field="public_key")
        self.pair_id = pair_id
        self.peer_id = responder_id
        transcript = transcript_hash(
            pair_id,
            self.node_id,
            responder_id,
            self.public_key,
            their_key,
            self.nonce,
            their_nonce,
        )
        self.keys = derive_keys(ecdh(self._private, peer), transcript)
        self.state = PairingState.CODE_READY

    def reveal(self) -> dict[str, str]:
        self._require(PairingState.CODE_READY)
        return {"public_key": b64e(self.public_key), "nonce": b64e(self.nonce)}

    def check_code(self, typed: str) -> bool:
        """The code the user typed from A's screen. Wrong ones count; the last one burns."""
        self._require(PairingState.CODE_READY)
        if hmac.compare_digest(typed.strip().encode(), self.code.encode()):
            self.state = PairingState.VERIFIED
            return True
        self.wrong_codes += 1
        if self.wrong_codes >= MAX_WRONG_CODES:
            self.fail()
        return False

    def accept(self) -> None:
        """The user compared the code by eye and said it matches."""
        self._require(PairingState.CODE_READY)
        self.state = PairingState.VERIFIED

    def seal_grant(self, grant: dict[str, Any]) -> str:
        self._require(PairingState.VERIFIED)
        return seal(self._send_key(), self.pair_id, "i2r", grant)

    def open_grant(self, sealed: str) -> dict[str, Any]:
        self._require(PairingState.VERIFIED)
        try:
            grant = open_sealed(self._receive_key(), self.pair_id, "r2i", sealed)
        except ChannelError:
            self.fail()
            raise
        self.state = PairingState.DONE
        return grant


class Responder(_Side):
    """Machine A: answers a commitment with its key, checks the reveal, opens B's grant."""

    role = "responder"

    def __init__(self, node_id: str, pair_id: str, scalar: bytes, nonce: bytes) -> None:
        if len(nonce) != NONCE_BYTES:
            raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
        self.node_id = node_id
        self.pair_id = pair_id
        self._private = private_from_scalar(scalar)
        self.public_key = public_bytes(self._private)
        self.nonce = nonce
        self.state = PairingState.START
        self.keys = None
        self.peer_id = ""
        self._commitment = b""

    def receive_commit(self, initiator_id: str, commit: str) -> dict[str, str]:
        self._require(PairingState.START)
        if not initiator_id or len(initiator_id) > 64:
            raise ProtocolError("node_id must be 1-64 characters")
        self._commitment = b64d(commit, field="commitment", size=32)
        self.peer_id = initiator_id
        self.state = PairingState.COMMITTED
        return {
            "pair_id": self.pair_id,
            "public_key": b64e(self.public_key),
            "nonce": b64e(self.nonce),
        }

    def receive_reveal(self, public_key: str, nonce: str) -> None:
        self._require(PairingState.COMMITTED)
        their_key = b64d(public_key, field="public_key", size=65)
        their_nonce = b64d(nonce, field="nonce", size=NONCE_BYTES)
        if not hmac.compare_digest(commitment(their_key, their_nonce), self._commitment):
            self.fail()
            raise ChannelError("the revealed key does not match the commitment")
        peer = load_public(their_key, field="public_key")
        transcript = transcript_hash(
            self.pair_id,
            self.peer_id,
            self.node_id,
            their_key,
            self.public_key,
            their_nonce,
            self.nonce,
        )
        self.keys = derive_keys(ecdh(self._private, peer), transcript)
        self.state = PairingState.CODE_READY

    def accept(self) -> None:
        self._require(PairingState.CODE_READY)
        self.state = PairingState.VERIFIED

    def open_grant(self, sealed: str) -> dict[str, Any]:
        """B's grant; opened as soon as it arrives (it may come before A's user accepts)."""
        self._require(PairingState.CODE_READY, PairingState.VERIFIED)
        try:
            return open_sealed(self._receive_key(), self.pair_id, "i2r", sealed)
        except ChannelError:
            self.fail()
            raise

    def seal_grant(self, grant: dict[str, Any]) -> str:
        self._require(PairingState.VERIFIED)
        sealed = seal(self._send_key(), self.pair_id, "r2i", grant)
        self.state = PairingState.DONE
        return sealed
