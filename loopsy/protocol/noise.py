"""The Noise Protocol Framework (revision 34), the two patterns Loopsy uses, sans-I/O.

- ``Noise_IKpsk1_25519_ChaChaPoly_SHA256`` pairs a phone: the phone (initiator) knows the
  daemon's static key from the QR code; the pairing code enters as the PSK at the end of
  message 1, so the daemon can check the code before it answers anything that depends on it.
- ``Noise_KK_25519_ChaChaPoly_SHA256`` for every later connection: both static keys are
  pinned; fresh ephemeral keys give forward secrecy.

Written from the specification, not wrapped from a library, because no maintained Python
Noise package speaks both patterns with injected ephemeral keys (needed for golden vectors);
the primitives come from ``cryptography``. The cacophony test vectors in
``tests/vectors/noise_cacophony.json`` pin this reading of the spec.

No randomness here: the caller passes the ephemeral private key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from loopsy.protocol.errors import ChannelError

DHLEN = 32
HASHLEN = 32
TAGLEN = 16
MAX_NONCE = (1 << 64) - 1  # 2^64-1 is reserved by the spec
MAX_MESSAGE = 65535  # a Noise message is at most 65535 bytes

_HAS_ENCRYPT_INTO = hasattr(ChaCha20Poly1305, "encrypt_into")
Bytes = bytes | bytearray | memoryview  # what the AEAD reads (any contiguous buffer)

PAIRING_PROTOCOL = b"Noise_IKpsk1_25519_ChaChaPoly_SHA256"
SESSION_PROTOCOL = b"Noise_KK_25519_ChaChaPoly_SHA256"


class Pattern(Enum):
    """Handshake patterns: pre-messages and message tokens, as in the spec's tables."""

    IK = ((), ("s",), (("e", "es", "s", "ss"), ("e", "ee", "se")))
    IKPSK1 = ((), ("s",), (("e", "es", "s", "ss", "psk"), ("e", "ee", "se")))
    KK = (("s",), ("s",), (("e", "es", "ss"), ("e", "ee", "se")))

    @property
    def initiator_pre(self) -> tuple[str, ...]:
        return self.value[0]  # type: ignore[no-any-return]

    @property
    def responder_pre(self) -> tuple[str, ...]:
        return self.value[1]  # type: ignore[no-any-return]

    @property
    def messages(self) -> tuple[tuple[str, ...], ...]:
        return self.value[2]  # type: ignore[no-any-return]


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def private_key(raw: bytes) -> X25519PrivateKey:
    if len(raw) != DHLEN:
        raise ChannelError(f"an X25519 private key is {DHLEN} bytes, not {len(raw)}")
    return X25519PrivateKey.from_private_bytes(raw)


def dh(key: X25519PrivateKey, public: bytes) -> bytes:
    if len(public) != DHLEN:
        raise ChannelError(f"an X25519 public key is {DHLEN} bytes, not {len(public)}")
    try:
        return key.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:
        # cryptography refuses low-order points (an all-zero shared secret): a forged key
        raise ChannelError("the peer's public key is not a valid X25519 key") from None


def hkdf(chaining_key: bytes, ikm: bytes, outputs: int) -> tuple[bytes, ...]:
    """HKDF as Noise defines it (HMAC-SHA256; two or three 32-byte outputs)."""
    temp = hmac.new(chaining_key, ikm, hashlib.sha256).digest()
    out1 = hmac.new(temp, b"\x01", hashlib.sha256).digest()
    out2 = hmac.new(temp, out1 + b"\x02", hashlib.sha256).digest()
    if outputs == 2:
        return out1, out2
    out3 = hmac.new(temp, out2 + b"\x03", hashlib.sha256).digest()
    return out1, out2, out3


def nonce_bytes(n: int) -> bytes:
    """ChaChaPoly's 96-bit nonce: 32 zero bits, then the 64-bit counter little-endian."""
    return b"\x00\x00\x00\x00" + n.to_bytes(8, "little")


class CipherState:
    """A key and a nonce counter; encrypts with ChaCha20-Poly1305."""

    def __init__(self, key: bytes | None = None) -> None:
        self._aead = ChaCha20Poly1305(key) if key is not None else None
        self.n = 0

    @property
    def has_key(self) -> bool:
        return self._aead is not None

    def encrypt_with_ad(self, ad: bytes, plaintext: bytes) -> bytes:
        if self._aead is None:
            return plaintext
        if self.n >= MAX_NONCE:
            raise ChannelError("nonce exhausted: reconnect for fresh keys")
        out = self._aead.encrypt(nonce_bytes(self.n), plaintext, ad)
        self.n += 1
        return out

    def encrypt_into(self, ad: bytes, plaintext: Bytes, out: memoryview) -> None:
        """:meth:`encrypt_with_ad` written into ``out`` (exactly ``len(plaintext) + TAGLEN``
        bytes): the transport path seals into the buffer it sends, with no copies."""
        if self._aead is None:
            raise ChannelError("no key to encrypt with")
        if self.n >= MAX_NONCE:
            raise ChannelError("nonce exhausted: reconnect for fresh keys")
        if _HAS_ENCRYPT_INTO:
            self._aead.encrypt_into(nonce_bytes(self.n), plaintext, ad, out)
        else:  # cryptography before encrypt_into: the same bytes, one copy more
            out[:] = self._aead.encrypt(nonce_bytes(self.n), bytes(plaintext), ad)
        self.n += 1

    def decrypt_with_ad(self, ad: bytes, ciphertext: Bytes) -> bytes:
        if self._aead is None:
            return bytes(ciphertext)
        if self.n >= MAX_NONCE:
            raise ChannelError("nonce exhausted: reconnect for fresh keys")
        try:
            out = self._aead.decrypt(nonce_bytes(self.n), ciphertext, ad)
        except InvalidTag:
            raise ChannelError("message authentication failed") from None
        self.n += 1
        return out


class SymmetricState:
    def __init__(self, protocol_name: bytes) -> None:
        if len(protocol_name) <= HASHLEN:
            self.h = protocol_name.ljust(HASHLEN, b"\x00")
        else:
            self.h = hashlib.sha256(protocol_name).digest()
        self.ck = self.h
        self.cipher = CipherState()

    def mix_key(self, ikm: bytes) -> None:
        self.ck, temp_k = hkdf(self.ck, ikm, 2)
        self.cipher = CipherState(temp_k)

    def mix_hash(self, data: bytes) -> None:
        self.h = hashlib.sha256(self.h + data).digest()

    def mix_key_and_hash(self, ikm: bytes) -> None:
        self.ck, temp_h, temp_k = hkdf(self.ck, ikm, 3)
        self.mix_hash(temp_h)
        self.cipher = CipherState(temp_k)

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        ciphertext = self.cipher.encrypt_with_ad(self.h, plaintext)
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes) -> bytes:
        plaintext = self.cipher.decrypt_with_ad(self.h, ciphertext)
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[CipherState, CipherState]:
        k1, k2 = hkdf(self.ck, b"", 2)
        return CipherState(k1), CipherState(k2)


@dataclass
class HandshakeResult:
    """What a finished handshake leaves: the two transport ciphers and the transcript hash."""

    send: CipherState
    receive: CipherState
    handshake_hash: bytes
    remote_static: bytes


class HandshakeState:
    """One side of a two-message handshake. Call ``write_message``/``read_message`` in turn;
    after the second message :attr:`result` holds the transport ciphers.
    """

    def __init__(
        self,
        pattern: Pattern,
        protocol_name: bytes,
        *,
        initiator: bool,
        prologue: bytes,
        static: X25519PrivateKey,
        ephemeral: X25519PrivateKey,
        remote_static: bytes | None = None,
        psk: bytes | None = None,
    ) -> None:
        if "psk" in {t for m in pattern.messages for t in m} and (psk is None or len(psk) != 32):
            raise ChannelError("this pattern needs a 32-byte PSK")
        self.pattern = pattern
        self.initiator = initiator
        self.symmetric = SymmetricState(protocol_name)
        self.symmetric.mix_hash(prologue)
        self.s = static
        self.e = ephemeral
        self.rs = remote_static
        self.re: bytes | None = None
        self.psk = psk
        self._psk_mode = psk is not None
        self._index = 0
        self.result: HandshakeResult | None = None
        for step in pattern.initiator_pre:
            assert step == "s"
            self.symmetric.mix_hash(public_bytes(self.s) if initiator else self._need_rs())
        for step in pattern.responder_pre:
            assert step == "s"
            self.symmetric.mix_hash(self._need_rs() if initiator else public_bytes(self.s))

    def _need_rs(self) -> bytes:
        if self.rs is None:
            raise ChannelError("this pattern needs the peer's static public key in advance")
        return self.rs

    @property
    def my_turn_to_write(self) -> bool:
        return (self._index % 2 == 0) == self.initiator

    @property
    def finished(self) -> bool:
        return self.result is not None

    def write_message(self, payload: bytes) -> bytes:
        if self.finished or not self.my_turn_to_write:
            raise ChannelError("handshake message out of turn")
        sym = self.symmetric
        out = bytearray()
        for step in self.pattern.messages[self._index]:
            if step == "e":
                pub = public_bytes(self.e)
                out += pub
                sym.mix_hash(pub)
                if self._psk_mode:
                    sym.mix_key(pub)
            elif step == "s":
                out += sym.encrypt_and_hash(public_bytes(self.s))
            elif step == "psk":
                assert self.psk is not None
                sym.mix_key_and_hash(self.psk)
            else:
                sym.mix_key(self._dh(step))
        out += sym.encrypt_and_hash(payload)
        self._advance()
        return bytes(out)

    def read_message(self, message: bytes) -> bytes:
        if self.finished or self.my_turn_to_write:
            raise ChannelError("handshake message out of turn")
        if len(message) > MAX_MESSAGE:
            raise ChannelError("handshake message too long")
        sym = self.symmetric
        view = memoryview(message)
        for step in self.pattern.messages[self._index]:
            if step == "e":
                if len(view) < DHLEN:
                    raise ChannelError("handshake message truncated")
                self.re = bytes(view[:DHLEN])
                view = view[DHLEN:]
                sym.mix_hash(self.re)
                if self._psk_mode:
                    sym.mix_key(self.re)
            elif step == "s":
                size = DHLEN + (TAGLEN if sym.cipher.has_key else 0)
                if len(view) < size:
                    raise ChannelError("handshake message truncated")
                self.rs = sym.decrypt_and_hash(bytes(view[:size]))
                view = view[size:]
            elif step == "psk":
                assert self.psk is not None
                sym.mix_key_and_hash(self.psk)
            else:
                sym.mix_key(self._dh(step))
        if sym.cipher.has_key and len(view) < TAGLEN:
            raise ChannelError("handshake message truncated")
        payload = sym.decrypt_and_hash(bytes(view))
        self._advance()
        return payload

    def _dh(self, step: str) -> bytes:
        # step "xy": x is the initiator's key, y the responder's (e or s)
        mine, theirs = (step[0], step[1]) if self.initiator else (step[1], step[0])
        key = self.e if mine == "e" else self.s
        remote = self.re if theirs == "e" else self.rs
        if remote is None:
            raise ChannelError(f"handshake step {step} before the peer's key")
        return dh(key, remote)

    def _advance(self) -> None:
        self._index += 1
        if self._index == len(self.pattern.messages):
            c1, c2 = self.symmetric.split()
            send, receive = (c1, c2) if self.initiator else (c2, c1)
            assert self.rs is not None
            self.result = HandshakeResult(send, receive, self.symmetric.h, self.rs)
