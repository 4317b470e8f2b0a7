"""The Noise core against the specification's published vectors, and Loopsy's own golden
vectors (tests/vectors/e2e.json) byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loopsy.protocol import relay, tunnel
from loopsy.protocol.channel import Handshake, SecureChannel
from loopsy.protocol.errors import ChannelError
from loopsy.protocol.noise import HandshakeState, Pattern, private_key, public_bytes
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

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
CACOPHONY = json.loads((VECTORS / "noise_cacophony.json").read_text())["vectors"]
E2E = json.loads((VECTORS / "e2e.json").read_text())
h = bytes.fromhex


@pytest.mark.parametrize("vector", CACOPHONY, ids=lambda v: v["protocol_name"])
def test_cacophony(vector: dict[str, Any]) -> None:
    pattern = Pattern.IKPSK1 if "psk1" in vector["protocol_name"] else Pattern.IK
    psk = h(vector["psk"]) if vector["psk"] else None
    resp_static = private_key(h(vector["resp_static"]))
    name = vector["protocol_name"].encode()
    init = HandshakeState(
        pattern,
        name,
        initiator=True,
        prologue=h(vector["init_prologue"]),
        static=private_key(h(vector["init_static"])),
        ephemeral=private_key(h(vector["init_ephemeral"])),
        remote_static=public_bytes(resp_static),
        psk=psk,
    )
    resp = HandshakeState(
        pattern,
        name,
        initiator=False,
        prologue=h(vector["init_prologue"]),
        static=resp_static,
        ephemeral=private_key(h(vector["resp_ephemeral"])),
        psk=psk,
    )
    msgs = vector["messages"]
    assert init.write_message(h(msgs[0]["payload"])).hex() == msgs[0]["ciphertext"]
    assert resp.read_message(h(msgs[0]["ciphertext"])) == h(msgs[0]["payload"])
    assert resp.write_message(h(msgs[1]["payload"])).hex() == msgs[1]["ciphertext"]
    assert init.read_message(h(msgs[1]["ciphertext"])) == h(msgs[1]["payload"])
    assert init.result is not None and resp.result is not None
    assert init.result.handshake_hash.hex() == vector["handshake_hash"]
    senders = [init.result.send, resp.result.send]
    receivers = [resp.result.receive, init.result.receive]
    for i, msg in enumerate(msgs[2:]):
        assert senders[i % 2].encrypt_with_ad(b"", h(msg["payload"])).hex() == msg["ciphertext"]
        assert receivers[i % 2].decrypt_with_ad(b"", h(msg["ciphertext"])) == h(msg["payload"])


def check_transport(phone: SecureChannel, daemon: SecureChannel, cases: list[Any]) -> None:
    for case in cases:
        sender, receiver = (
            (phone, daemon) if case["direction"] == "phone_to_daemon" else (daemon, phone)
        )
        assert sender.seal(h(case["plaintext"])).hex() == case["frame"]
        assert receiver.open(h(case["frame"])) == h(case["plaintext"])
        tunnel.decode_frames(h(case["plaintext"]))  # every plaintext is valid tunnel frames


def test_pairing_vector() -> None:
    v = E2E["pairing"]
    draws = iter(h(d) for d in v["random_draws"])
    assert new_code(lambda n: next(draws)) == v["code"]
    token = h(v["token"])
    assert code_psk(token, v["code"]).hex() == v["psk"]
    assert pairing_prologue(v["device_id"]).hex() == v["prologue"]
    link = PairLink.parse(v["url"])
    assert link.device_id == v["device_id"] and link.token == token
    assert link.daemon_public.hex() == v["daemon_static_public"]
    assert link.relay_url == "https://relay.example"
    daemon_static = private_key(h(v["daemon_static_private"]))
    phone = Handshake.pairing_initiator(
        prologue=h(v["prologue"]),
        static=private_key(h(v["phone_static_private"])),
        ephemeral=private_key(h(v["phone_ephemeral_private"])),
        responder_static=link.daemon_public,
        psk=h(v["psk"]),
    )
    daemon = Handshake.pairing_responder(
        prologue=h(v["prologue"]),
        static=daemon_static,
        ephemeral=private_key(h(v["daemon_ephemeral_private"])),
        psk=h(v["psk"]),
    )
    assert phone.write(h(v["message1_payload"])).hex() == v["message1"]
    assert PairRequest.decode(daemon.read(h(v["message1"]))).name == "Pixel 8"
    assert daemon.remote_static is not None
    assert daemon.remote_static.hex() == v["phone_static_public"]
    assert daemon.write(h(v["message2_payload"])).hex() == v["message2"]
    grant = PairGrant.decode(phone.read(h(v["message2"])))
    assert grant.phone_id == "a1b2c3d4e5f6" and grant.device_id == v["device_id"]
    phone_ch, daemon_ch = phone.channel(), daemon.channel()
    assert phone_ch.handshake_hash.hex() == v["handshake_hash"] == daemon_ch.handshake_hash.hex()
    check_transport(phone_ch, daemon_ch, v["transport"])


def test_wrong_code_vector_fails_at_the_daemon() -> None:
    v = E2E["pairing"]
    daemon = Handshake.pairing_responder(
        prologue=h(v["prologue"]),
        static=private_key(h(v["daemon_static_private"])),
        ephemeral=private_key(h(v["daemon_ephemeral_private"])),
        psk=h(v["psk"]),
    )
    with pytest.raises(ChannelError, match="authentication failed"):
        daemon.read(h(v["message1_with_code_000000"]))


def test_session_vector() -> None:
    v = E2E["session"]
    assert session_prologue(v["device_id"], v["phone_id"]).hex() == v["prologue"]
    phone_static = private_key(h(v["phone_static_private"]))
    daemon_static = private_key(h(v["daemon_static_private"]))
    phone = Handshake.session(
        initiator=True,
        prologue=h(v["prologue"]),
        static=phone_static,
        ephemeral=private_key(h(v["phone_ephemeral_private"])),
        remote_static=public_bytes(daemon_static),
    )
    daemon = Handshake.session(
        initiator=False,
        prologue=h(v["prologue"]),
        static=daemon_static,
        ephemeral=private_key(h(v["daemon_ephemeral_private"])),
        remote_static=public_bytes(phone_static),
    )
    assert phone.write().hex() == v["message1"]
    assert daemon.read(h(v["message1"])) == b""
    assert daemon.write().hex() == v["message2"]
    assert phone.read(h(v["message2"])) == b""
    check_transport(phone.channel(), daemon.channel(), v["transport"])


@pytest.mark.parametrize("case", E2E["tunnel_frames"], ids=lambda c: c["name"])
def test_tunnel_frame_vectors(case: dict[str, Any]) -> None:
    (frame,) = tunnel.decode_frames(h(case["bytes"]))
    assert (int(frame.kind), frame.stream, frame.payload.hex()) == (
        case["kind"],
        case["stream"],
        case["payload"],
    )
    assert frame.encode().hex() == case["bytes"]


def test_relay_vectors() -> None:
    v = E2E["relay"]
    kinds = [relay.LinkFrame.decode(h(f["bytes"])).type for f in v["link_frames"]]
    assert kinds == [
        relay.LinkType.OPEN,
        relay.LinkType.OPEN,
        relay.LinkType.DATA,
        relay.LinkType.CLOSE,
    ]
    device = Credential.parse(v["device_credential"])
    assert relay.device_protocols(device) == v["device_protocols"]
    auth = relay.parse_auth(v["phone_protocols"])
    assert auth.kind == "phone" and auth.device_id == device.id
    assert relay.parse_auth(v["pair_protocols"]).kind == "pair"
