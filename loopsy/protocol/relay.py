"""The relay's wire protocol, sans-I/O: credentials in ``Sec-WebSocket-Protocol``, the
daemon link's routing frames, control messages and close codes.

The relay is a router. Phones and daemons give it opaque binary messages (end-to-end
channel frames); the daemon link adds a 5-byte routing header so one WebSocket carries
every phone of the device::

    type  u8            0x01 OPEN (relay → daemon), 0x02 DATA (both), 0x03 CLOSE (both)
    conn  u32 BE        the relay's number for one phone connection
    body                OPEN: UTF-8 JSON {"kind": "phone", "phone_id"} or
                              {"kind": "pair", "pair_id"}
                        DATA: the opaque bytes, forwarded unchanged
                        CLOSE: u16 BE close code, UTF-8 reason

Text messages are the relay's own JSON control messages: to a daemon
``{"type": "hello", "device_id", "protocol": 1}`` once connected; to a phone
``{"type": "device", "online": bool}`` on connect and on every change. A phone starts (or
restarts) its handshake each time it reads ``online: true``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from loopsy.protocol.errors import ProtocolError
from loopsy.protocol.pairing import Credential, b64url, check_id, unb64url

PROTOCOL_VERSION = 1
SUBPROTOCOL = "loopsy.relay.1"
DEVICE_PREFIX = "loopsy.device."
PAIR_PREFIX = "loopsy.pair."
PHONE_PREFIX = "loopsy.phone."
LINK_HEADER = struct.Struct(">BI")
# One WebSocket message through the relay: a whole channel frame (256 KiB + 24) and header.
MAX_MESSAGE = 256 * 1024 + 64
MAX_CONN_ID = (1 << 32) - 1


class Close(IntEnum):
    """WebSocket close codes the relay and daemon use (4000 + an HTTP status, like the API)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY = 1008
    TOO_BIG = 1009
    PROTOCOL = 4400  # malformed frame, text from a phone, bad routing header
    UNAUTHORIZED = 4401  # handshake failed at the daemon (unknown phone, bad key)
    REVOKED = 4403  # the phone was revoked; also a wrong pairing code (the reason says)
    GONE = 4404  # the pair token expired, was used, or was burned
    REPLACED = 4409  # a newer daemon link for the same device took over
    FLOOD = 4429  # a queue bound or a rate was exceeded
    UNAVAILABLE = 4503  # the relay is shutting down


class Refused(Exception):
    """Close one relayed connection with ``code``; ``reason`` goes to the phone."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class LinkType(IntEnum):
    OPEN = 0x01
    DATA = 0x02
    CLOSE = 0x03


@dataclass(frozen=True)
class LinkFrame:
    type: LinkType
    conn: int
    body: bytes = b""

    def encode(self) -> bytes:
        return LINK_HEADER.pack(self.type, self.conn) + self.body

    @classmethod
    def decode(cls, data: bytes) -> LinkFrame:
        if len(data) < LINK_HEADER.size:
            raise ProtocolError("link frame shorter than its 5-byte header")
        if len(data) > MAX_MESSAGE + LINK_HEADER.size:
            raise ProtocolError("link frame too large")
        kind, conn = LINK_HEADER.unpack_from(data)
        try:
            link_type = LinkType(kind)
        except ValueError:
            raise ProtocolError(f"unknown link frame type 0x{kind:02x}") from None
        return cls(link_type, conn, data[LINK_HEADER.size :])


def open_frame(conn: int, kind: str, ident: str) -> LinkFrame:
    key = "phone_id" if kind == "phone" else "pair_id"
    body = json.dumps({"kind": kind, key: ident}, separators=(",", ":")).encode()
    return LinkFrame(LinkType.OPEN, conn, body)


def decode_open(body: bytes) -> tuple[str, str]:
    """``("phone", phone_id)`` or ``("pair", pair_id)``."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("OPEN body is not UTF-8 JSON") from None
    if not isinstance(value, dict) or value.get("kind") not in ("phone", "pair"):
        raise ProtocolError("OPEN body must say kind 'phone' or 'pair'")
    kind = str(value["kind"])
    ident = value.get("phone_id" if kind == "phone" else "pair_id")
    return kind, check_id(str(ident), f"{kind} id")


def close_frame(conn: int, code: int, reason: str = "") -> LinkFrame:
    return LinkFrame(LinkType.CLOSE, conn, struct.pack(">H", code) + reason.encode()[:123])


def decode_close(body: bytes) -> tuple[int, str]:
    if len(body) < 2:
        raise ProtocolError("CLOSE body must start with a 2-byte code")
    return struct.unpack(">H", body[:2])[0], body[2:].decode("utf-8", "replace")


def control(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def parse_control(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise ProtocolError("control message is not JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise ProtocolError("control message must be an object with a 'type'")
    return value


# -- credentials in Sec-WebSocket-Protocol -------------------------------------------------
# Browsers cannot set Authorization on a WebSocket, so every credential travels as one
# subprotocol entry next to SUBPROTOCOL; the relay answers with SUBPROTOCOL only, never
# echoing a secret. Base64url and dots are all valid HTTP token characters.


def device_protocols(credential: Credential) -> list[str]:
    return [SUBPROTOCOL, DEVICE_PREFIX + str(credential)]


def pair_protocols(token: bytes) -> list[str]:
    return [SUBPROTOCOL, PAIR_PREFIX + b64url(token)]


def phone_protocols(device_id: str, credential: Credential) -> list[str]:
    return [SUBPROTOCOL, f"{PHONE_PREFIX}{device_id}.{credential}"]


@dataclass(frozen=True)
class PresentedAuth:
    kind: str  # "device", "pair" or "phone"
    device_id: str | None
    credential: Credential | None
    token: bytes | None


def offered_protocols(header_values: Iterable[str]) -> list[str]:
    return [p.strip() for value in header_values for p in value.split(",") if p.strip()]


def parse_auth(protocols: list[str], authorization: str | None = None) -> PresentedAuth:
    """The one credential a connection presents (a device may use ``Authorization``)."""
    found = [p for p in protocols if p.startswith((DEVICE_PREFIX, PAIR_PREFIX, PHONE_PREFIX))]
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ProtocolError("Authorization must be 'Bearer <device_id>.<secret>'")
        found.append(DEVICE_PREFIX + value.strip())
    if len(found) != 1:
        raise ProtocolError("present exactly one credential")
    entry = found[0]
    if entry.startswith(DEVICE_PREFIX):
        credential = Credential.parse(entry.removeprefix(DEVICE_PREFIX), "device credential")
        return PresentedAuth("device", credential.id, credential, None)
    if entry.startswith(PAIR_PREFIX):
        token = unb64url(entry.removeprefix(PAIR_PREFIX), length=32, what="pair token")
        return PresentedAuth("pair", None, None, token)
    device_id, dot, rest = entry.removeprefix(PHONE_PREFIX).partition(".")
    if not dot:
        raise ProtocolError("phone credential must be '<device_id>.<phone_id>.<secret>'")
    credential = Credential.parse(rest, "phone credential")
    return PresentedAuth("phone", check_id(device_id, "device id"), credential, None)
