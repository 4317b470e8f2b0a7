"""The end-to-end channel between a phone and a daemon, sans-I/O.

A channel starts with a two-message Noise handshake (see :mod:`loopsy.protocol.noise`):
``IKpsk1`` when pairing, ``KK`` afterwards. Then every message is a transport frame::

    counter  u64 big-endian   must be exactly the next counter in this direction
    sealed   ChaCha20-Poly1305(key, nonce = 0x00000000 || counter little-endian,
                               ad = empty, plaintext)  → len(plaintext) + 16 bytes

The explicit counter costs 8 bytes and turns a replayed, dropped or reordered frame into a
clear "replay" error instead of an anonymous MAC failure; the nonce is still the counter,
so a frame cannot be moved to another position. Keys never outlive the connection: every
reconnect runs a new handshake with fresh ephemeral keys (forward secrecy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.protocol.errors import ChannelError
from loopsy.protocol.noise import (
    PAIRING_PROTOCOL,
    SESSION_PROTOCOL,
    TAGLEN,
    Bytes,
    CipherState,
    HandshakeResult,
    HandshakeState,
    Pattern,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

COUNTER_LEN = 8
# A transport frame's plaintext is capped so one frame can never pin much memory at the
# relay or the peer; 256 KiB keeps per-frame overhead under 0.01 %.
MAX_PLAINTEXT = 256 * 1024
MAX_FRAME = COUNTER_LEN + MAX_PLAINTEXT + TAGLEN


class SecureChannel:
    """Seals and opens transport frames once a handshake has finished."""

    def __init__(self, result: HandshakeResult) -> None:
        self._send: CipherState = result.send
        self._receive: CipherState = result.receive
        self.handshake_hash = result.handshake_hash
        self.remote_static = result.remote_static

    @property
    def sent(self) -> int:
        return self._send.n

    @property
    def received(self) -> int:
        return self._receive.n

    def seal(self, plaintext: Bytes) -> bytes:
        return bytes(self.seal_after(0, plaintext))

    def seal_after(self, headroom: int, plaintext: Bytes) -> bytearray:
        """The transport frame of ``plaintext`` after ``headroom`` bytes left for the caller
        (the daemon link's routing header): sealed in place, so the frame that goes out is
        the only buffer made for it (a relay hop's send path copied it three times)."""
        size = len(plaintext)
        if size > MAX_PLAINTEXT:
            raise ChannelError(f"plaintext over {MAX_PLAINTEXT} bytes; split it")
        out = bytearray(headroom + COUNTER_LEN + size + TAGLEN)
        out[headroom : headroom + COUNTER_LEN] = self._send.n.to_bytes(COUNTER_LEN, "big")
        self._send.encrypt_into(b"", plaintext, memoryview(out)[headroom + COUNTER_LEN :])
        return out

    def open(self, frame: Bytes) -> bytes:
        if len(frame) < COUNTER_LEN + TAGLEN:
            raise ChannelError("transport frame too short")
        if len(frame) > MAX_FRAME:
            raise ChannelError("transport frame too long")
        view = memoryview(frame)
        counter = int.from_bytes(view[:COUNTER_LEN], "big")
        expected = self._receive.n
        if counter < expected:
            raise ChannelError(f"replayed frame (counter {counter}, expected {expected})")
        if counter > expected:
            raise ChannelError(f"frame out of order (counter {counter}, expected {expected})")
        return self._receive.decrypt_with_ad(b"", view[COUNTER_LEN:])


class Handshake:
    """One side of a channel handshake; :meth:`channel` gives the open channel after it."""

    def __init__(self, state: HandshakeState) -> None:
        self._state = state

    @classmethod
    def pairing_initiator(
        cls,
        *,
        prologue: bytes,
        static: X25519PrivateKey,
        ephemeral: X25519PrivateKey,
        responder_static: bytes,
        psk: bytes,
    ) -> Handshake:
        return cls(
            HandshakeState(
                Pattern.IKPSK1,
                PAIRING_PROTOCOL,
                initiator=True,
                prologue=prologue,
                static=static,
                ephemeral=ephemeral,
                remote_static=responder_static,
                psk=psk,
            )
        )

    @classmethod
    def pairing_responder(
        cls, *, prologue: bytes, static: X25519PrivateKey, ephemeral: X25519PrivateKey, psk: bytes
    ) -> Handshake:
        return cls(
            HandshakeState(
                Pattern.IKPSK1,
                PAIRING_PROTOCOL,
                initiator=False,
                prologue=prologue,
                static=static,
                ephemeral=ephemeral,
                psk=psk,
            )
        )

    @classmethod
    def session(
        cls,
        *,
        initiator: bool,
        prologue: bytes,
        static: X25519PrivateKey,
        ephemeral: X25519PrivateKey,
        remote_static: bytes,
    ) -> Handshake:
        return cls(
            HandshakeState(
                Pattern.KK,
                SESSION_PROTOCOL,
                initiator=initiator,
                prologue=prologue,
                static=static,
                ephemeral=ephemeral,
                remote_static=remote_static,
            )
        )

    @property
    def finished(self) -> bool:
        return self._state.finished

    @property
    def remote_static(self) -> bytes | None:
        return self._state.rs

    def write(self, payload: bytes = b"") -> bytes:
        return self._state.write_message(payload)

    def read(self, message: bytes) -> bytes:
        return self._state.read_message(message)

    def channel(self) -> SecureChannel:
        if self._state.result is None:
            raise ChannelError("the handshake has not finished")
        return SecureChannel(self._state.result)
