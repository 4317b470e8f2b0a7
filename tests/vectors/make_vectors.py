"""Write ``tests/vectors/e2e.json``: fixed keys, tokens and payloads → the exact bytes.

Run ``python -m tests.vectors.make_vectors`` only when the protocol changes on purpose (and
bump the version in the prologues). ``tests/unit/test_vectors.py`` checks the Python code
still produces every byte; the phone's TypeScript tests read the same file.

The Noise core itself is pinned independently by ``noise_cacophony.json``, the published
test vectors of the Noise specification, so these vectors are not one reading of the spec
checked against itself.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from loopsy.protocol import relay, tunnel
from loopsy.protocol.channel import Handshake
from loopsy.protocol.noise import private_key, public_bytes
from loopsy.protocol.pairing import (
    Credential,
    PairGrant,
    PairLink,
    PairRequest,
    code_psk,
    new_code,
    pairing_prologue,
    session_prologue,
)

OUT = Path(__file__).with_name("e2e.json")


def key(label: str) -> bytes:
    """Deterministic 32-byte test keys: SHA-256 of a label (documented in the JSON)."""
    return hashlib.sha256(label.encode()).digest()


def hx(data: bytes) -> str:
    return data.hex()


def transport_exchange(phone: Any, daemon: Any) -> list[dict[str, str]]:
    frames = [
        tunnel.RequestHead("GET", "/api/v1/status", [("accept", "application/json")]).frame(1),
        tunnel.Frame(tunnel.Kind.END, 1),
    ]
    plain1 = tunnel.encode_frames(frames)
    plain2 = tunnel.encode_frames(
        [
            tunnel.ResponseHead(200, [("content-type", "application/json")]).frame(1),
            tunnel.Frame(tunnel.Kind.DATA, 1, b'{"ok":true}'),
            tunnel.Frame(tunnel.Kind.END, 1),
        ]
    )
    plain3 = tunnel.encode_frames([tunnel.window_frame(1, 131072)])
    out = []
    for direction, sender, plaintext in (
        ("phone_to_daemon", phone, plain1),
        ("daemon_to_phone", daemon, plain2),
        ("phone_to_daemon", phone, plain3),
    ):
        out.append(
            {
                "direction": direction,
                "plaintext": hx(plaintext),
                "frame": hx(sender.seal(plaintext)),
            }
        )
    return out


def pairing_vector() -> dict[str, Any]:
    daemon_static = private_key(key("daemon static"))
    phone_static = private_key(key("phone static"))
    phone_eph = private_key(key("phone ephemeral 1"))
    daemon_eph = private_key(key("daemon ephemeral 1"))
    device_id = "0123456789abcdef"
    token = key("pair token")
    stream = iter([bytes.fromhex("fffffff0"), bytes.fromhex("0001e23f")])
    code = new_code(lambda n: next(stream))
    psk = code_psk(token, code)
    link = PairLink("https://relay.example", device_id, token, public_bytes(daemon_static))
    prologue = pairing_prologue(device_id)
    phone = Handshake.pairing_initiator(
        prologue=prologue,
        static=phone_static,
        ephemeral=phone_eph,
        responder_static=public_bytes(daemon_static),
        psk=psk,
    )
    daemon = Handshake.pairing_responder(
        prologue=prologue, static=daemon_static, ephemeral=daemon_eph, psk=psk
    )
    request = PairRequest("Pixel 8").encode()
    msg1 = phone.write(request)
    assert daemon.read(msg1) == request
    grant = PairGrant(device_id, "a1b2c3d4e5f6", key("phone credential"), "laptop").encode()
    msg2 = daemon.write(grant)
    assert phone.read(msg2) == grant
    phone_ch, daemon_ch = phone.channel(), daemon.channel()
    wrong = Handshake.pairing_initiator(
        prologue=prologue,
        static=phone_static,
        ephemeral=phone_eph,
        responder_static=public_bytes(daemon_static),
        psk=code_psk(token, "000000"),
    )
    return {
        "description": "Pairing (Noise_IKpsk1_25519_ChaChaPoly_SHA256). The code comes from "
        "rejection sampling of 4-byte big-endian draws: 0xfffffff0 is >= 4294000000 and "
        "skipped; 0x0001e23f = 123455 → '123455'.",
        "random_draws": ["fffffff0", "0001e23f"],
        "code": code,
        "daemon_static_private": hx(key("daemon static")),
        "daemon_static_public": hx(public_bytes(daemon_static)),
        "phone_static_private": hx(key("phone static")),
        "phone_static_public": hx(public_bytes(phone_static)),
        "phone_ephemeral_private": hx(key("phone ephemeral 1")),
        "daemon_ephemeral_private": hx(key("daemon ephemeral 1")),
        "device_id": device_id,
        "token": hx(token),
        "token_hash": hashlib.sha256(token).hexdigest(),
        "url": link.url(),
        "psk": hx(psk),
        "prologue": hx(prologue),
        "message1_payload": hx(request),
        "message1": hx(msg1),
        "message1_with_code_000000": hx(wrong.write(request)),
        "message2_payload": hx(grant),
        "message2": hx(msg2),
        "handshake_hash": hx(phone_ch.handshake_hash),
        "transport": transport_exchange(phone_ch, daemon_ch),
    }


def session_vector() -> dict[str, Any]:
    daemon_static = private_key(key("daemon static"))
    phone_static = private_key(key("phone static"))
    device_id, phone_id = "0123456789abcdef", "a1b2c3d4e5f6"
    prologue = session_prologue(device_id, phone_id)
    phone = Handshake.session(
        initiator=True,
        prologue=prologue,
        static=phone_static,
        ephemeral=private_key(key("phone ephemeral 2")),
        remote_static=public_bytes(daemon_static),
    )
    daemon = Handshake.session(
        initiator=False,
        prologue=prologue,
        static=daemon_static,
        ephemeral=private_key(key("daemon ephemeral 2")),
        remote_static=public_bytes(phone_static),
    )
    msg1 = phone.write(b"")
    daemon.read(msg1)
    msg2 = daemon.write(b"")
    phone.read(msg2)
    phone_ch, daemon_ch = phone.channel(), daemon.channel()
    return {
        "description": "Reconnect (Noise_KK_25519_ChaChaPoly_SHA256), empty payloads; same static "
        "keys as the pairing vector.",
        "daemon_static_private": hx(key("daemon static")),
        "phone_static_private": hx(key("phone static")),
        "phone_ephemeral_private": hx(key("phone ephemeral 2")),
        "daemon_ephemeral_private": hx(key("daemon ephemeral 2")),
        "device_id": device_id,
        "phone_id": phone_id,
        "prologue": hx(prologue),
        "message1": hx(msg1),
        "message2": hx(msg2),
        "handshake_hash": hx(phone_ch.handshake_hash),
        "transport": transport_exchange(phone_ch, daemon_ch),
    }


def tunnel_vectors() -> list[dict[str, Any]]:
    cases = [
        (
            "http request head",
            tunnel.RequestHead(
                "POST", "/api/v1/sessions?x=1", [("content-type", "application/json")]
            ).frame(3),
        ),
        (
            "http response head",
            tunnel.ResponseHead(201, [("content-type", "application/json")]).frame(3),
        ),
        ("body chunk", tunnel.Frame(tunnel.Kind.DATA, 3, b'{"a":1}')),
        ("end of body", tunnel.Frame(tunnel.Kind.END, 3)),
        (
            "websocket open",
            tunnel.OpenHead("/api/v1/sessions/s1/attach", [], ["loopsy.stream.1"]).frame(5),
        ),
        ("websocket accept", tunnel.accept_frame(5, "loopsy.stream.1")),
        ("websocket text", tunnel.message_frame(5, "héllo")),
        ("websocket binary", tunnel.message_frame(5, b"\x00\xff")),
        ("websocket fragment, more follow", tunnel.message_frames(5, "abcdef", piece=4)[0]),
        ("websocket fragment, last", tunnel.message_frames(5, "abcdef", piece=4)[1]),
        ("websocket close", tunnel.close_frame(tunnel.Kind.WS_CLOSE, 5, 1000, "bye")),
        ("stream window", tunnel.window_frame(5, 65536)),
        ("connection window", tunnel.window_frame(0, 524288)),
        ("reset", tunnel.close_frame(tunnel.Kind.RESET, 7, 413, "too large")),
        ("ping", tunnel.Frame(tunnel.Kind.PING, 0, b"12345678")),
    ]
    return [
        {
            "name": name,
            "kind": int(f.kind),
            "stream": f.stream,
            "payload": hx(f.payload),
            "bytes": hx(f.encode()),
        }
        for name, f in cases
    ]


def relay_vectors() -> dict[str, Any]:
    device = Credential("0123456789abcdef", key("device secret"))
    phone = Credential("a1b2c3d4e5f6", key("phone credential"))
    return {
        "link_frames": [
            {
                "name": "open phone",
                "bytes": hx(relay.open_frame(7, "phone", "a1b2c3d4e5f6").encode()),
            },
            {
                "name": "open pair",
                "bytes": hx(
                    relay.open_frame(8, "pair", "00112233445566778899aabbccddeeff").encode()
                ),
            },
            {
                "name": "data",
                "bytes": hx(relay.LinkFrame(relay.LinkType.DATA, 7, b"\x01\x02").encode()),
            },
            {"name": "close", "bytes": hx(relay.close_frame(7, 4403, "revoked").encode())},
        ],
        "device_credential": str(device),
        "device_secret_hash": hashlib.sha256(device.secret).hexdigest(),
        "device_protocols": relay.device_protocols(device),
        "pair_protocols": relay.pair_protocols(key("pair token")),
        "phone_protocols": relay.phone_protocols(device.id, phone),
    }


def main() -> None:
    data = {
        "format": "Loopsy protocol golden vectors, version 1. All byte strings are lowercase "
        "hex. Private keys are SHA-256 of the ASCII labels in make_vectors.py. See "
        "docs/PROTOCOL.md for every structure.",
        "pairing": pairing_vector(),
        "session": session_vector(),
        "tunnel_frames": tunnel_vectors(),
        "relay": relay_vectors(),
    }
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
