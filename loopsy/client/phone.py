"""The reference phone, in Python: pairs with a daemon through its relay and keeps the
phone's identity. Tests and benchmarks use it; the browser client implements the same
protocol (docs/PROTOCOL.md).

    identity = await pair_phone(url_from_qr, "123456", name="test phone")
    identity.save(path)                       # JSON, 0600
    async with LoopsyClient(TunnelConnection(identity)) as client:
        await client.status()                 # the daemon's API, end to end encrypted

The identity file holds the phone's X25519 private key, its relay credential, and the
daemon's pinned public key, so it is written 0600 and atomically.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from loopsy.home import write_atomic
from loopsy.protocol import relay as wire
from loopsy.protocol.channel import Handshake
from loopsy.protocol.errors import ChannelError, LoopsyError, ProtocolError
from loopsy.protocol.noise import private_key, public_bytes
from loopsy.protocol.pairing import (
    Credential,
    PairGrant,
    PairLink,
    PairRequest,
    b64url,
    code_psk,
    normalize_code,
    pairing_prologue,
    unb64url,
)

PAIR_TIMEOUT = 30.0


class PairingFailed(LoopsyError):
    """The daemon or relay refused the pairing (wrong code, expired or used token)."""


@dataclass(frozen=True)
class PhoneIdentity:
    relay_url: str
    device_id: str
    phone_id: str
    credential: bytes
    static_private: bytes
    daemon_public: bytes
    node_name: str

    def __repr__(self) -> str:
        return f"PhoneIdentity(phone_id={self.phone_id!r}, relay_url={self.relay_url!r}, ...)"

    @property
    def relay_credential(self) -> Credential:
        return Credential(self.phone_id, self.credential)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "relay_url": self.relay_url,
                "device_id": self.device_id,
                "phone_id": self.phone_id,
                "credential": b64url(self.credential),
                "static_private": b64url(self.static_private),
                "daemon_public": b64url(self.daemon_public),
                "node_name": self.node_name,
            },
            indent=2,
        )

    def save(self, path: Path) -> None:
        write_atomic(path, self.to_json() + "\n", mode=0o600)

    @classmethod
    def load(cls, path: Path) -> PhoneIdentity:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                relay_url=str(data["relay_url"]),
                device_id=str(data["device_id"]),
                phone_id=str(data["phone_id"]),
                credential=unb64url(str(data["credential"]), length=32, what="credential"),
                static_private=unb64url(str(data["static_private"]), length=32, what="key"),
                daemon_public=unb64url(str(data["daemon_public"]), length=32, what="key"),
                node_name=str(data.get("node_name", "")),
            )
        except (OSError, ValueError, KeyError, TypeError, ProtocolError) as exc:
            raise LoopsyError(f"cannot read the phone identity {path}: {exc}") from None


def ws_url(relay_url: str, path: str) -> str:
    return relay_url.replace("http", "ws", 1) + path


async def wait_online(ws: object) -> None:
    """Read relay control messages until the device is online."""
    for _ in range(1000):
        message = await ws.recv()  # type: ignore[attr-defined]
        if isinstance(message, str):
            control = wire.parse_control(message)
            if control.get("type") == "device" and control.get("online") is True:
                return
    raise ProtocolError("the relay never said the device is online")


async def pair_phone(
    url: str,
    code: str,
    *,
    name: str = "phone",
    randbytes: Callable[[int], bytes] = secrets.token_bytes,
    deadline: float = PAIR_TIMEOUT,
) -> PhoneIdentity:
    """Pair with the daemon behind the pair link ``url`` (the QR code) using ``code``."""
    link = PairLink.parse(url)
    code = normalize_code(code)
    static_raw = randbytes(32)
    static = private_key(static_raw)
    handshake = Handshake.pairing_initiator(
        prologue=pairing_prologue(link.device_id),
        static=static,
        ephemeral=private_key(randbytes(32)),
        responder_static=link.daemon_public,
        psk=code_psk(link.token, code),
    )
    try:
        with anyio.fail_after(deadline):
            async with connect(
                ws_url(link.relay_url, "/v1/pair/connect"),
                subprotocols=[Subprotocol(p) for p in wire.pair_protocols(link.token)],
                compression=None,
                open_timeout=deadline,
            ) as ws:
                await wait_online(ws)
                await ws.send(handshake.write(PairRequest(name).encode()))
                reply = await ws.recv()
                if not isinstance(reply, bytes):
                    raise ProtocolError("the daemon answered the handshake with text")
                grant = PairGrant.decode(handshake.read(reply))
    except InvalidStatus as exc:
        raise PairingFailed(
            f"the relay refused the pair token (HTTP {exc.response.status_code})",
            hint="it is used, expired or burned: run `loopsy mobile pair` again",
        ) from None
    except ConnectionClosed as exc:
        reason = exc.rcvd.reason if exc.rcvd else "connection lost"
        raise PairingFailed(f"pairing refused: {reason}") from None
    except TimeoutError:
        raise PairingFailed("the daemon did not answer in time") from None
    except ChannelError as exc:
        raise PairingFailed(f"the daemon's answer does not verify: {exc}") from None
    if grant.device_id != link.device_id:
        raise PairingFailed("the grant names another device")
    return PhoneIdentity(
        relay_url=link.relay_url,
        device_id=link.device_id,
        phone_id=grant.phone_id,
        credential=grant.credential,
        static_private=static_raw,
        daemon_public=link.daemon_public,
        node_name=grant.node_name,
    )


def phone_public_key(identity: PhoneIdentity) -> bytes:
    return public_bytes(private_key(identity.static_private))
