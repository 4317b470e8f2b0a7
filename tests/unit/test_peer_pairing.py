"""The pairing core with plain calls: both sides agree on one code, a man in the middle
cannot, the commitment binds, sealed grants open only with the transcript's keys."""

from __future__ import annotations

import pytest

from loopsy.protocol.errors import ChannelError, ProtocolError
from loopsy.protocol.peer_pairing import (
    MAX_WRONG_CODES,
    Initiator,
    PairingState,
    Responder,
    b64e,
)


def keys(seed: int) -> tuple[bytes, bytes]:
    return (seed + 1).to_bytes(32, "big"), bytes([seed]) * 32


def run(
    initiator: Initiator | None = None, responder: Responder | None = None
) -> tuple[Initiator, Responder]:
    b = initiator or Initiator("node-b", *keys(1))
    a = responder or Responder("node-a", "pair-1", *keys(2))
    answer = a.receive_commit(b.node_id, b.commit())
    b.receive_answer(answer["pair_id"], a.node_id, answer["public_key"], answer["nonce"])
    a.receive_reveal(**b.reveal())
    return b, a


def test_both_sides_derive_the_same_six_digits() -> None:
    b, a = run()
    assert b.code == a.code and len(a.code) == 6 and a.code.isdigit()
    assert a.state is b.state is PairingState.CODE_READY


def test_fixed_inputs_give_a_fixed_code() -> None:
    """A regression vector: change the transcript or KDF and this code changes."""
    _, a = run()
    assert a.code == "154562"
    other = run(Initiator("node-b", *keys(1)), Responder("node-a", "pair-2", *keys(2)))[1]
    assert other.code != a.code  # the pair id is in the transcript


def test_grants_cross_only_after_both_accept() -> None:
    b, a = run()
    with pytest.raises(ProtocolError):
        b.seal_grant({"x": 1})
    assert b.check_code(a.code)
    sealed = b.seal_grant({"credential": "for-a"})
    assert a.open_grant(sealed) == {"credential": "for-a"}
    with pytest.raises(ProtocolError):
        a.seal_grant({"credential": "for-b"})  # A's user has not accepted yet
    a.accept()
    assert b.open_grant(a.seal_grant({"credential": "for-b"})) == {"credential": "for-b"}
    assert a.state is b.state is PairingState.DONE


def test_wrong_codes_are_counted_and_burn() -> None:
    b, a = run()
    bad = f"{(int(a.code) + 1) % 10**6:06d}"
    for _ in range(MAX_WRONG_CODES - 1):
        assert not b.check_code(bad)
        assert b.state is PairingState.CODE_READY
    assert not b.check_code(bad)
    assert b.state is PairingState.FAILED
    with pytest.raises(ProtocolError):
        b.check_code(a.code)


def test_reveal_must_match_commitment() -> None:
    b = Initiator("node-b", *keys(1))
    a = Responder("node-a", "pair-1", *keys(2))
    answer = a.receive_commit(b.node_id, b.commit())
    b.receive_answer(answer["pair_id"], a.node_id, answer["public_key"], answer["nonce"])
    swapped = Initiator("node-b", *keys(3))  # a key chosen after seeing A's
    with pytest.raises(ChannelError, match="commitment"):
        a.receive_reveal(public_key=b64e(swapped.public_key), nonce=b64e(swapped.nonce))
    assert a.state is PairingState.FAILED


def test_man_in_the_middle_sees_different_codes() -> None:
    b, m_to_a = Initiator("node-b", *keys(1)), Initiator("node-b", *keys(5))
    a, m_to_b = Responder("node-a", "pair-1", *keys(2)), Responder("node-a", "pair-1", *keys(6))
    _, a = run(m_to_a, a)
    b, _ = run(b, m_to_b)
    assert a.code != b.code


def test_sealed_message_tampering_and_wrong_direction() -> None:
    b, a = run()
    b.accept()
    a.accept()
    sealed = b.seal_grant({"k": "v"})
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    a2 = run(Initiator("node-b", *keys(1)), Responder("node-a", "pair-1", *keys(2)))[1]
    with pytest.raises(ChannelError):
        a2.open_grant(flipped)
    # B's own message cannot be reflected back to B as A's answer
    with pytest.raises(ChannelError):
        b.open_grant(sealed)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("public_key", "not-base64!"),
        ("public_key", b64e(b"\x04" + b"\x00" * 64)),  # not on the curve
        ("public_key", b64e(b"\x04" * 10)),
        ("nonce", b64e(b"short")),
    ],
)
def test_malformed_answers(field: str, value: str) -> None:
    b = Initiator("node-b", *keys(1))
    a = Responder("node-a", "pair-1", *keys(2))
    answer = a.receive_commit(b.node_id, b.commit())
    answer[field] = value
    with pytest.raises(ProtocolError):
        b.receive_answer(answer["pair_id"], a.node_id, answer["public_key"], answer["nonce"])


def test_out_of_order_steps() -> None:
    b = Initiator("node-b", *keys(1))
    with pytest.raises(ProtocolError):
        b.reveal()
    a = Responder("node-a", "pair-1", *keys(2))
    with pytest.raises(ProtocolError):
        a.receive_reveal(public_key=b64e(b.public_key), nonce=b64e(b.nonce))
    with pytest.raises(ValueError):
        Initiator("x", bytes(32), bytes(32))  # a zero scalar is no key
