"""The E2E channel refuses replays, reordering, tampering, wrong keys and wrong codes."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from loopsy.protocol.channel import MAX_PLAINTEXT, Handshake, SecureChannel
from loopsy.protocol.errors import ChannelError
from loopsy.protocol.noise import public_bytes
from loopsy.protocol.pairing import code_psk, pairing_prologue, session_prologue

DEVICE, PHONE = "0123456789abcdef", "a1b2c3d4e5f6"


def new_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def session_pair(
    phone_static: X25519PrivateKey, daemon_static: X25519PrivateKey, pinned: bytes | None = None
) -> tuple[Handshake, Handshake]:
    prologue = session_prologue(DEVICE, PHONE)
    phone = Handshake.session(
        initiator=True,
        prologue=prologue,
        static=phone_static,
        ephemeral=new_key(),
        remote_static=public_bytes(daemon_static),
    )
    daemon = Handshake.session(
        initiator=False,
        prologue=prologue,
        static=daemon_static,
        ephemeral=new_key(),
        remote_static=pinned if pinned is not None else public_bytes(phone_static),
    )
    return phone, daemon


def open_channels() -> tuple[SecureChannel, SecureChannel]:
    phone, daemon = session_pair(new_key(), new_key())
    daemon.read(phone.write())
    phone.read(daemon.write())
    return phone.channel(), daemon.channel()


def test_round_trip_both_ways() -> None:
    phone, daemon = open_channels()
    for i in range(5):
        assert daemon.open(phone.seal(b"ping %d" % i)) == b"ping %d" % i
        assert phone.open(daemon.seal(b"pong")) == b"pong"
    assert phone.sent == 5 and daemon.received == 5


def test_replay_is_refused_and_channel_survives() -> None:
    phone, daemon = open_channels()
    first = phone.seal(b"one")
    daemon.open(first)
    with pytest.raises(ChannelError, match="replayed"):
        daemon.open(first)
    assert daemon.open(phone.seal(b"two")) == b"two"


def test_reordered_and_dropped_frames_are_refused() -> None:
    phone, daemon = open_channels()
    a, b = phone.seal(b"a"), phone.seal(b"b")
    with pytest.raises(ChannelError, match="out of order"):
        daemon.open(b)
    assert daemon.open(a) == b"a"


def test_counter_cannot_be_rewritten() -> None:
    phone, daemon = open_channels()
    phone.seal(b"skipped")
    second = phone.seal(b"second")
    forged = (0).to_bytes(8, "big") + second[8:]  # claim to be frame 0
    with pytest.raises(ChannelError, match="authentication failed"):
        daemon.open(forged)


@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=255))
def test_any_bit_flip_is_detected(position: int, flip: int) -> None:
    phone, daemon = open_channels()
    frame = bytearray(phone.seal(b"secret terminal output " * 2))
    position = 8 + position % (len(frame) - 8)
    frame[position] ^= flip or 1
    with pytest.raises(ChannelError):
        daemon.open(bytes(frame))


def test_frames_of_one_connection_do_not_open_on_another() -> None:
    phone1, _ = open_channels()
    _, daemon2 = open_channels()
    with pytest.raises(ChannelError):
        daemon2.open(phone1.seal(b"x"))


def test_reconnect_uses_fresh_keys() -> None:
    phone_static, daemon_static = new_key(), new_key()
    hashes = set()
    frames = set()
    for _ in range(3):
        phone, daemon = session_pair(phone_static, daemon_static)
        daemon.read(phone.write())
        phone.read(daemon.write())
        channel = phone.channel()
        hashes.add(channel.handshake_hash)
        frames.add(channel.seal(b"same plaintext"))
    assert len(hashes) == 3 and len(frames) == 3


def test_unpinned_phone_key_fails_the_handshake() -> None:
    impostor, daemon_static = new_key(), new_key()
    phone, daemon = session_pair(impostor, daemon_static, pinned=public_bytes(new_key()))
    with pytest.raises(ChannelError):
        daemon.read(phone.write())


def test_wrong_daemon_key_fails_at_the_phone() -> None:
    phone_static = new_key()
    phone, _ = session_pair(phone_static, new_key())
    _, impostor = session_pair(phone_static, new_key())
    with pytest.raises(ChannelError):
        impostor.read(phone.write())


def test_prologue_binds_the_routing_claims() -> None:
    phone_static, daemon_static = new_key(), new_key()
    phone = Handshake.session(
        initiator=True,
        prologue=session_prologue(DEVICE, PHONE),
        static=phone_static,
        ephemeral=new_key(),
        remote_static=public_bytes(daemon_static),
    )
    daemon = Handshake.session(
        initiator=False,
        prologue=session_prologue(DEVICE, "ffffffffffff"),
        static=daemon_static,
        ephemeral=new_key(),
        remote_static=public_bytes(phone_static),
    )
    with pytest.raises(ChannelError):
        daemon.read(phone.write())


def pairing(code_phone: str, code_daemon: str) -> tuple[Handshake, Handshake]:
    token = os.urandom(32)
    daemon_static = new_key()
    phone = Handshake.pairing_initiator(
        prologue=pairing_prologue(DEVICE),
        static=new_key(),
        ephemeral=new_key(),
        responder_static=public_bytes(daemon_static),
        psk=code_psk(token, code_phone),
    )
    daemon = Handshake.pairing_responder(
        prologue=pairing_prologue(DEVICE),
        static=daemon_static,
        ephemeral=new_key(),
        psk=code_psk(token, code_daemon),
    )
    return phone, daemon


def test_pairing_with_the_right_code() -> None:
    phone, daemon = pairing("123456", "123456")
    assert daemon.read(phone.write(b'{"v":1}')) == b'{"v":1}'
    assert phone.read(daemon.write(b"grant")) == b"grant"
    assert phone.channel().handshake_hash == daemon.channel().handshake_hash


def test_pairing_with_a_wrong_code_fails_before_the_daemon_answers() -> None:
    phone, daemon = pairing("123457", "123456")
    with pytest.raises(ChannelError, match="authentication failed"):
        daemon.read(phone.write(b"{}"))
    with pytest.raises(ChannelError, match="out of turn"):
        daemon.write(b"grant")  # the daemon has nothing to answer with


@pytest.mark.parametrize(
    "message",
    [b"", b"\x00" * 31, b"\x00" * 32, b"\x00" * 100, os.urandom(96), b"\xff" * 70000],
    ids=["empty", "short", "zero-key", "zero-padded", "random", "oversize"],
)
def test_malformed_handshake_messages(message: bytes) -> None:
    _, daemon = pairing("123456", "123456")
    with pytest.raises(ChannelError):
        daemon.read(message)


def test_transport_frame_limits() -> None:
    phone, daemon = open_channels()
    with pytest.raises(ChannelError, match="split"):
        phone.seal(b"x" * (MAX_PLAINTEXT + 1))
    with pytest.raises(ChannelError, match="too short"):
        daemon.open(b"\x00" * 10)
    with pytest.raises(ChannelError, match="too long"):
        daemon.open(b"\x00" * (MAX_PLAINTEXT + 100))
    assert daemon.open(phone.seal(b"y" * MAX_PLAINTEXT)) == b"y" * MAX_PLAINTEXT


def test_channel_before_handshake_end_is_refused() -> None:
    phone, _ = pairing("123456", "123456")
    phone.write(b"")
    with pytest.raises(ChannelError, match="not finished"):
        phone.channel()


@pytest.mark.parametrize("encrypt_into", [True, False])
def test_sealing_after_headroom_is_the_same_frame(
    monkeypatch: pytest.MonkeyPatch, encrypt_into: bool
) -> None:
    """The send path seals into its outgoing buffer (cryptography's encrypt_into, or a copy
    where that is missing): after the headroom lies exactly the frame seal() gives."""
    from loopsy.protocol import noise

    monkeypatch.setattr(noise, "_HAS_ENCRYPT_INTO", encrypt_into)
    key = os.urandom(32)

    def channel() -> SecureChannel:
        return SecureChannel(
            noise.HandshakeResult(noise.CipherState(key), noise.CipherState(key), b"", b"")
        )

    framed_side, plain_side, reader = channel(), channel(), channel()
    for plaintext in (b"", b"x", os.urandom(70_000)):
        framed = framed_side.seal_after(5, memoryview(plaintext))
        assert framed[:5] == bytes(5)
        assert framed[5:] == plain_side.seal(plaintext)
        assert reader.open(memoryview(framed)[5:]) == plaintext
    with pytest.raises(ChannelError, match="split it"):
        framed_side.seal_after(5, bytes(MAX_PLAINTEXT + 1))
