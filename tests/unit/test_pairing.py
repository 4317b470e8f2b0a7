"""Pair links, codes and the attempt counter."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from loopsy.protocol.errors import ChannelError, ProtocolError
from loopsy.protocol.pairing import (
    MAX_ATTEMPTS,
    Credential,
    PairGrant,
    PairLink,
    PairOutcome,
    PairRequest,
    PairTicket,
    hash_matches,
    new_code,
    normalize_code,
    secret_hash,
)

LINK = PairLink("http://127.0.0.1:8787", "0123456789abcdef", os.urandom(32), os.urandom(32))


def test_link_round_trip_and_fragment_only() -> None:
    url = LINK.url()
    assert url.startswith("http://127.0.0.1:8787/app#pair=1.")
    before_fragment = url.split("#", 1)[0]
    assert LINK.fragment not in before_fragment
    assert PairLink.parse(url) == LINK
    assert "token" not in repr(LINK) and LINK.token.hex() not in repr(LINK)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x/app#pair=1.0123456789abcdef.AAAA.BBBB",
        "http://x/app",
        "http://x/app#pair=2.0123456789abcdef.a.b",
        "http://x/app#pair=1.NOTHEX.a.b",
        "http://x/app#pair=1.0123456789abcdef.short.short",
        "http://x/app#pair=1.0123456789abcdef.a+b/=.c",
        "http://x/app#pair=1.0123456789abcdef",
    ],
)
def test_malformed_links(url: str) -> None:
    with pytest.raises(ProtocolError):
        PairLink.parse(url)


def test_code_is_six_digits_uniformish() -> None:
    codes = [new_code(os.urandom) for _ in range(2000)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    first_digits = Counter(c[0] for c in codes)
    assert len(first_digits) == 10 and min(first_digits.values()) > 100


def test_code_rejection_sampling_gives_up_on_a_broken_source() -> None:
    with pytest.raises(ProtocolError):
        new_code(lambda n: b"\xff" * n)


@pytest.mark.parametrize("typed", ["123456", "123 456", "123-456", " 123456 "])
def test_code_normalization(typed: str) -> None:
    assert normalize_code(typed) == "123456"


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", "", "１２３４５６"])
def test_bad_codes(typed: str) -> None:
    with pytest.raises(ProtocolError):
        normalize_code(typed)


def test_ticket_burns_after_max_attempts() -> None:
    ticket = PairTicket("00112233445566778899aabbccddeeff", os.urandom(32), "123456", 100.0)
    for left in range(MAX_ATTEMPTS - 1, 0, -1):
        assert ticket.record_failure() == left
        assert ticket.usable(0.0)
    assert ticket.record_failure() == 0
    assert ticket.state(0.0) == PairOutcome.BURNED and not ticket.usable(0.0)
    assert "123456" not in repr(ticket)


def test_ticket_expires() -> None:
    ticket = PairTicket("00112233445566778899aabbccddeeff", os.urandom(32), "123456", 100.0)
    assert ticket.usable(99.9)
    assert ticket.state(100.0) == PairOutcome.EXPIRED


def test_credentials_parse_and_hide() -> None:
    cred = Credential("a1b2c3d4e5f6", os.urandom(32))
    assert Credential.parse(str(cred)) == cred
    assert "secret=<hidden>" in repr(cred)
    assert hash_matches(cred.secret, secret_hash(cred.secret))
    assert not hash_matches(os.urandom(32), secret_hash(cred.secret))
    for bad in ["nodot", "a1b2c3d4e5f6.", "ZZ.abc", "a1b2c3d4e5f6." + "A" * 10]:
        with pytest.raises(ProtocolError):
            Credential.parse(bad)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff",
        b"[]",
        b'{"v":2,"name":"x"}',
        b'{"v":1}',
        b'{"v":1,"name":""}',
        b'{"v":1,"name":"a\\u0007b"}',
        b'{"v":1,"name":"' + b"x" * 65 + b'"}',
    ],
)
def test_bad_pair_requests(payload: bytes) -> None:
    with pytest.raises(ChannelError):
        PairRequest.decode(payload)


def test_bad_grants() -> None:
    good = PairGrant("0123456789abcdef", "a1b2c3d4e5f6", os.urandom(32), "laptop")
    assert PairGrant.decode(good.encode()) == good
    with pytest.raises(ChannelError):
        PairGrant.decode(b'{"v":1,"device_id":"0123456789abcdef"}')
    with pytest.raises(ChannelError):
        PairGrant.decode(good.encode().replace(b"a1b2c3d4e5f6", b"../../etc"))
