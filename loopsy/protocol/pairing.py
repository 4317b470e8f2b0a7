"""Pairing a phone, sans-I/O: the pair link (QR/URL), the code, the handshake inputs and
payloads, and the attempt counter.

The pair link carries key material only in the URL fragment, which browsers never send::

    https://relay.example/app#pair=1.<device_id>.<token>.<daemon_public_key>

``token`` (32 random bytes) and the daemon's X25519 static public key are unpadded
base64url. The 6-digit code is drawn separately and shown only on the laptop: nothing in
the link determines it. The phone proves it knows the code inside a Noise ``IKpsk1``
handshake whose PSK is ``HMAC-SHA256(key=token, "loopsy pair code v1|" + code)``: message 1
is encrypted to the daemon's static key and bound to both static keys, so neither a leaked
QR nor the relay can test codes offline, and every online guess is counted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from loopsy.protocol.errors import ChannelError, ProtocolError

LINK_VERSION = "1"
CODE_DIGITS = 6
MAX_ATTEMPTS = 5
DEFAULT_TTL = 300.0
TOKEN_LEN = 32
SECRET_LEN = 32
ID_PATTERN = re.compile(r"^[0-9a-f]{12,32}$")
MAX_PHONE_NAME = 64


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str, *, length: int | None = None, what: str = "value") -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ProtocolError(f"{what} is not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{what} is not unpadded base64url") from None
    if length is not None and len(data) != length:
        raise ProtocolError(f"{what} must be {length} bytes, not {len(data)}")
    return data


def check_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise ProtocolError(f"{what} must be 12 to 32 lowercase hex digits")
    return value


def secret_hash(secret: bytes) -> str:
    """How relays and daemons keep secrets at rest: SHA-256, lowercase hex."""
    return hashlib.sha256(secret).hexdigest()


def hash_matches(secret: bytes, stored_hex: str) -> bool:
    return hmac.compare_digest(secret_hash(secret).encode(), stored_hex.encode())


@dataclass(frozen=True)
class Credential:
    """``<id>.<secret>``: an id (not secret) and 32 random bytes (secret, hashed at rest)."""

    id: str
    secret: bytes

    def __str__(self) -> str:
        return f"{self.id}.{b64url(self.secret)}"

    def __repr__(self) -> str:  # never print the secret by accident
        return f"Credential(id={self.id!r}, secret=<hidden>)"

    @classmethod
    def parse(cls, text: str, what: str = "credential") -> Credential:
        ident, dot, secret = text.partition(".")
        if not dot:
            raise ProtocolError(f"{what} must be '<id>.<secret>'")
        return cls(check_id(ident, f"{what} id"), unb64url(secret, length=SECRET_LEN, what=what))


@dataclass(frozen=True)
class PairLink:
    """What the QR code holds."""

    relay_url: str
    device_id: str
    token: bytes
    daemon_public: bytes

    def __repr__(self) -> str:
        return f"PairLink(relay_url={self.relay_url!r}, device_id={self.device_id!r}, ...)"

    @property
    def fragment(self) -> str:
        parts = [LINK_VERSION, self.device_id, b64url(self.token), b64url(self.daemon_public)]
        return "pair=" + ".".join(parts)

    def url(self) -> str:
        return f"{self.relay_url.rstrip('/')}/app#{self.fragment}"

    @classmethod
    def parse(cls, url: str) -> PairLink:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ProtocolError("a pair link starts with https:// (or http:// for a local relay)")
        if not parts.fragment.startswith("pair="):
            raise ProtocolError("the pair link has no '#pair=' fragment; copy the whole URL")
        fields = parts.fragment.removeprefix("pair=").split(".")
        if len(fields) != 4 or fields[0] != LINK_VERSION:
            raise ProtocolError(f"unsupported pair link (expected version {LINK_VERSION})")
        path = parts.path.removesuffix("/").removesuffix("/app")
        return cls(
            relay_url=f"{parts.scheme}://{parts.netloc}{path}",
            device_id=check_id(fields[1], "device id"),
            token=unb64url(fields[2], length=TOKEN_LEN, what="pair token"),
            daemon_public=unb64url(fields[3], length=32, what="daemon key"),
        )


def new_code(randbytes: Callable[[int], bytes]) -> str:
    """A uniformly random 6-digit code (rejection sampling: no modulo bias)."""
    limit = (1 << 32) - (1 << 32) % 10**CODE_DIGITS
    for _ in range(64):
        value = int.from_bytes(randbytes(4), "big")
        if value < limit:
            return str(value % 10**CODE_DIGITS).zfill(CODE_DIGITS)
    raise ProtocolError("the random source keeps returning out-of-range values")


def normalize_code(text: str) -> str:
    """Accept ``123 456`` or ``123-456`` as typed; refuse anything that is not 6 digits."""
    digits = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(rf"[0-9]{{{CODE_DIGITS}}}", digits):
        raise ProtocolError(f"the pairing code is {CODE_DIGITS} digits")
    return digits


def code_psk(token: bytes, code: str) -> bytes:
    return hmac.new(token, b"loopsy pair code v1|" + code.encode("ascii"), hashlib.sha256).digest()


def pairing_prologue(device_id: str) -> bytes:
    return b"loopsy/1 pair\x00" + device_id.encode("ascii")


def session_prologue(device_id: str, phone_id: str) -> bytes:
    return b"loopsy/1 session\x00" + device_id.encode("ascii") + b"\x00" + phone_id.encode("ascii")


def _json_payload(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ChannelError(f"{what} is not UTF-8 JSON") from None
    if not isinstance(value, dict) or value.get("v") != 1:
        raise ChannelError(f'{what} must be a JSON object with "v": 1')
    return value


@dataclass(frozen=True)
class PairRequest:
    """Message 1's payload (phone → daemon): how the phone wants to be called."""

    name: str

    def encode(self) -> bytes:
        return json.dumps({"v": 1, "name": self.name}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> PairRequest:
        value = _json_payload(data, "pair request")
        name = value.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_PHONE_NAME:
            raise ChannelError(f"pair request: name must be 1 to {MAX_PHONE_NAME} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise ChannelError("pair request: name has control characters")
        return cls(name=name)


@dataclass(frozen=True)
class PairGrant:
    """Message 2's payload (daemon → phone): the phone's identity and relay credential."""

    device_id: str
    phone_id: str
    credential: bytes
    node_name: str

    def __repr__(self) -> str:
        return f"PairGrant(device_id={self.device_id!r}, phone_id={self.phone_id!r}, ...)"

    def encode(self) -> bytes:
        body = {
            "v": 1,
            "device_id": self.device_id,
            "phone_id": self.phone_id,
            "credential": b64url(self.credential),
            "node_name": self.node_name,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> PairGrant:
        value = _json_payload(data, "pair grant")
        try:
            return cls(
                device_id=check_id(str(value["device_id"]), "device id"),
                phone_id=check_id(str(value["phone_id"]), "phone id"),
                credential=unb64url(str(value["credential"]), length=SECRET_LEN, what="credential"),
                node_name=str(value["node_name"])[:64],
            )
        except (KeyError, ProtocolError) as exc:
            raise ChannelError(f"pair grant: {exc}") from None


class PairOutcome:
    PENDING = "pending"
    PAIRED = "paired"
    BURNED = "burned"
    EXPIRED = "expired"


@dataclass
class PairTicket:
    """The daemon's record of one pairing offer: its secrets, expiry and failed attempts."""

    pair_id: str
    token: bytes
    code: str
    expires_at: float
    failures: int = 0
    outcome: str = PairOutcome.PENDING
    phone_id: str | None = None

    def __repr__(self) -> str:
        return f"PairTicket(pair_id={self.pair_id!r}, outcome={self.outcome!r}, ...)"

    @property
    def psk(self) -> bytes:
        return code_psk(self.token, self.code)

    def state(self, now: float) -> str:
        if self.outcome == PairOutcome.PENDING and now >= self.expires_at:
            self.outcome = PairOutcome.EXPIRED
        return self.outcome

    def usable(self, now: float) -> bool:
        return self.state(now) == PairOutcome.PENDING

    def record_failure(self) -> int:
        """Count a failed attempt; burn the ticket at :data:`MAX_ATTEMPTS`. Returns how many
        attempts are left."""
        self.failures += 1
        if self.failures >= MAX_ATTEMPTS:
            self.outcome = PairOutcome.BURNED
        return max(0, MAX_ATTEMPTS - self.failures)

    def record_success(self, phone_id: str) -> None:
        self.outcome = PairOutcome.PAIRED
        self.phone_id = phone_id
