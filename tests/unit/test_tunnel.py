"""The tunnel codec and its flow control, with malformed input of every kind."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopsy.protocol import relay, tunnel
from loopsy.protocol.errors import ChannelError, ProtocolError
from loopsy.protocol.tunnel import FlowControl, Frame, Kind


@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Kind)),
            st.integers(min_value=0, max_value=tunnel.MAX_STREAM_ID),
            st.binary(max_size=300),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_codec_round_trip(items: list[tuple[Kind, int, bytes]]) -> None:
    frames = [Frame(k, s, p) for k, s, p in items]
    assert tunnel.decode_frames(tunnel.encode_frames(frames)) == frames


@given(st.binary(max_size=64))
def test_garbage_never_crashes(data: bytes) -> None:
    with contextlib.suppress(ChannelError):
        tunnel.decode_frames(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01\x00\x00",
        struct.pack(">BII", 0x01, 1, 10) + b"short",
        struct.pack(">BII", 0x7F, 1, 0),
    ],
    ids=["empty", "truncated header", "truncated payload", "unknown kind"],
)
def test_malformed_frames(data: bytes) -> None:
    with pytest.raises(ChannelError):
        tunnel.decode_frames(data)


def test_heads_round_trip() -> None:
    head = tunnel.RequestHead("GET", "/api/v1/status?a=1", [("accept", "*/*")])
    assert tunnel.RequestHead.decode(head.frame(1).payload) == head
    resp = tunnel.ResponseHead(404, [("content-type", "application/json")])
    assert tunnel.ResponseHead.decode(resp.frame(1).payload) == resp
    ws = tunnel.OpenHead("/api/v1/x", [], ["a", "b"])
    assert tunnel.OpenHead.decode(ws.frame(3).payload) == ws
    assert tunnel.decode_accept(tunnel.accept_frame(3, None).payload) is None
    assert tunnel.decode_message(tunnel.message_frame(3, "tëxt").payload) == "tëxt"
    assert tunnel.decode_message(tunnel.message_frame(3, b"\x00bin").payload) == b"\x00bin"
    code, reason = tunnel.decode_close(tunnel.close_frame(Kind.WS_CLOSE, 3, 4404, "gone").payload)
    assert (code, reason) == (4404, "gone")


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1]",
        b'{"method":"GET"}',
        b'{"method":"G E","path":"/x"}',
        b'{"method":"GET","path":"relative"}',
        b'{"method":"GET","path":"/a b"}',
        b'{"method":"GET","path":"/x#frag"}',
        b'{"method":"GET","path":"/x","headers":[["a"]]}',
        b'{"method":"GET","path":"/x","headers":[["bad name","v"]]}',
        b'{"method":"GET","path":"/x","headers":[["x","a\\r\\nInjected: 1"]]}',
        b'{"method":"GET","path":"/x","headers":"nope"}',
        b'{"method":"GET","path":"' + b"a" * 70000 + b'"}',
    ],
)
def test_bad_request_heads(payload: bytes) -> None:
    with pytest.raises(ChannelError):
        tunnel.RequestHead.decode(payload)


def test_bad_messages_and_windows() -> None:
    for payload in (b"", b"\x02x", b"\x01\xff\xfe"):
        with pytest.raises(ChannelError):
            tunnel.decode_message(payload)
    for payload in (b"", b"\x00\x00\x00", b"\x00\x00\x00\x00"):
        with pytest.raises(ChannelError):
            tunnel.decode_window(payload)
    with pytest.raises(ChannelError):
        tunnel.ResponseHead.decode(b'{"status":99}')
    with pytest.raises(ChannelError):
        tunnel.OpenHead.decode(b'{"path":"/x","subprotocols":[1]}')


def test_flow_control_limits_the_sender_until_granted() -> None:
    sender, receiver = FlowControl(1000, 1500), FlowControl(1000, 1500)
    for fc in (sender, receiver):
        fc.open(1)
        fc.open(3)
    assert sender.sendable(1) == 1000
    sender.sent(1, 1000)
    assert sender.sendable(1) == 0 and sender.sendable(3) == 500  # connection window left
    with pytest.raises(ChannelError):
        sender.sent(1, 1)
    assert receiver.received(1, 1000)
    grants = receiver.consumed(1, 1000)
    assert [tunnel.decode_window(f.payload) for f in grants] == [1000, 1000]
    for f in grants:
        sender.granted(f.stream, tunnel.decode_window(f.payload))
    assert sender.sendable(1) == 1000


def test_overrun_is_a_protocol_error() -> None:
    receiver = FlowControl(100, 1000)
    receiver.open(1)
    with pytest.raises(ChannelError, match="overran"):
        receiver.received(1, 101)
    receiver.open(3)
    receiver.received(3, 100)
    with pytest.raises(ChannelError, match="overran"):
        receiver.received(3, 1)


def test_late_frames_on_closed_streams_still_return_connection_credit() -> None:
    receiver = FlowControl(100, 150)
    receiver.open(1)
    receiver.close(1)
    assert receiver.received(1, 100) is False
    assert [f.stream for f in receiver.consumed(1, 100)] == [0]


def test_stream_limits() -> None:
    fc = FlowControl()
    for i in range(1, tunnel.MAX_STREAMS + 1):
        fc.open(i)
    with pytest.raises(ChannelError, match="streams at once"):
        fc.open(1000)
    with pytest.raises(ChannelError, match="already open"):
        fc.open(1)
    with pytest.raises(ChannelError, match="2 GiB"):
        fc.granted(0, 1 << 31)


def test_relay_link_frames() -> None:
    frame = relay.open_frame(9, "phone", "a1b2c3d4e5f6")
    decoded = relay.LinkFrame.decode(frame.encode())
    assert decoded == frame
    assert relay.decode_open(decoded.body) == ("phone", "a1b2c3d4e5f6")
    assert relay.decode_close(relay.close_frame(9, 4403, "revoked").body) == (4403, "revoked")
    for bad in (
        b"",
        b"\x02\x00",
        b"\x09\x00\x00\x00\x01",
        b"\x02" + b"\x00" * 4 + b"x" * (relay.MAX_MESSAGE + 1),
    ):
        with pytest.raises(ProtocolError):
            relay.LinkFrame.decode(bad)
    for body in (b"x", b'{"kind":"admin"}', b'{"kind":"phone","phone_id":"../x"}'):
        with pytest.raises(ProtocolError):
            relay.decode_open(body)


def test_relay_auth_parsing() -> None:
    with pytest.raises(ProtocolError, match="exactly one"):
        relay.parse_auth([relay.SUBPROTOCOL])
    with pytest.raises(ProtocolError, match="exactly one"):
        relay.parse_auth(["loopsy.pair.AAAA", "loopsy.pair.BBBB"])
    with pytest.raises(ProtocolError):
        relay.parse_auth([], "Basic dXNlcg==")
    with pytest.raises(ProtocolError):
        relay.parse_auth(["loopsy.phone.0123456789abcdef"])
    assert relay.offered_protocols(["a, b", "c"]) == ["a", "b", "c"]


@given(st.one_of(st.binary(max_size=3000), st.text(max_size=1500)), st.integers(1, 700))
def test_fragmented_messages_reassemble(message: bytes | str, piece: int) -> None:
    assembler = tunnel.MessageAssembler()
    frames = tunnel.message_frames(9, message, piece=piece)
    assert all(len(f.payload) <= piece + 1 for f in frames)
    results = [assembler.feed(f.payload) for f in frames]
    assert results[:-1] == [None] * (len(frames) - 1)
    assert results[-1] == message


def test_fragment_rules() -> None:
    assembler = tunnel.MessageAssembler(limit=10)
    assert assembler.feed(b"\x81abc") is None
    with pytest.raises(ChannelError, match="disagree"):
        assembler.feed(b"\x00def")
    assembler = tunnel.MessageAssembler(limit=10)
    assembler.feed(b"\x80" + b"x" * 8)
    with pytest.raises(ChannelError, match="over 10 bytes"):
        assembler.feed(b"\x00" + b"x" * 8)
    with pytest.raises(ChannelError, match="flag byte"):
        tunnel.MessageAssembler().feed(b"\x40x")
    with pytest.raises(ChannelError, match="a fragment"):
        tunnel.decode_message(b"\x80abc")
    text = tunnel.message_frames(1, "é" * 3, piece=1)  # split inside a UTF-8 sequence
    assembler = tunnel.MessageAssembler()
    assert [assembler.feed(f.payload) for f in text][-1] == "ééé"


def reference_fragments(stream: int, message: bytes | str, piece: int) -> bytes:
    """Fragments as PROTOCOL.md words them, written out plainly (the vectors' reading)."""
    flag = tunnel.TEXT if isinstance(message, str) else 0
    data = message.encode() if isinstance(message, str) else message
    chunks = [data[i : i + piece] for i in range(0, len(data), piece)] or [b""]
    out = b""
    for i, chunk in enumerate(chunks):
        more = tunnel.MORE if i < len(chunks) - 1 else 0
        out += Frame(Kind.WS_MESSAGE, stream, bytes([flag | more]) + chunk).encode()
    return out


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 250, 301])
@pytest.mark.parametrize("text", [False, True])
def test_message_pieces_are_the_fragments_unjoined(size: int, text: bool) -> None:
    message: bytes | str = "é" * (size // 2) if text else bytes(range(256)) * 2
    if not text:
        message = message[:size]
    expected = reference_fragments(7, message, 100)
    data = message.encode() if isinstance(message, str) else message
    pieces = tunnel.message_pieces(7, data, text=text, piece=100)
    assert b"".join(b"".join((head, bytes(view))) for head, view in pieces) == expected
    assert tunnel.encode_frames(tunnel.message_frames(7, message, piece=100)) == expected


@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Kind)),
            st.integers(min_value=0, max_value=tunnel.MAX_STREAM_ID),
            st.binary(max_size=300),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_split_frames_views_what_decode_frames_copies(items: list[tuple[Kind, int, bytes]]) -> None:
    encoded = tunnel.encode_frames([Frame(k, s, p) for k, s, p in items])
    views = tunnel.split_frames(encoded)
    assert [(k, s, bytes(v)) for k, s, v in views] == items
    assert all(v.obj is encoded for _, _, v in views)  # views of the message, not copies


def test_assembler_joins_views_of_several_messages() -> None:
    message = bytes(range(256)) * 1000
    first = tunnel.encode_frames(tunnel.message_frames(3, message, piece=100_000)[:2])
    second = tunnel.encode_frames(tunnel.message_frames(3, message, piece=100_000)[2:])
    assembler = tunnel.MessageAssembler()
    results = [
        assembler.feed(payload)
        for plaintext in (first, second)
        for _, _, payload in tunnel.split_frames(plaintext)
    ]
    assert results[:-1] == [None, None] and results[-1] == message
    assert assembler.feed(memoryview(b"\x01h\xc3\xa9")) == "hé"


def test_owed_grants_everything_consumed_at_once() -> None:
    receiver = FlowControl()
    receiver.open(1)
    receiver.open(3)
    assert receiver.received(1, 1000) and receiver.received(3, 10)
    assert receiver.consumed(1, 1000) == [] and receiver.consumed(3, 10) == []
    owed = receiver.owed()
    assert owed == [
        tunnel.window_frame(1, 1000),
        tunnel.window_frame(3, 10),
        tunnel.window_frame(0, 1010),
    ]
    assert receiver.owed() == []
    # The windows are whole again: the peer may send a full window once more.
    assert receiver.received(1, tunnel.STREAM_WINDOW)
    sender = FlowControl()
    sender.open(1)
    sender.sent(1, 1000)
    for frame in owed[:1] + owed[2:]:
        sender.granted(frame.stream, tunnel.decode_window(frame.payload))
    assert sender.sendable(1) == tunnel.STREAM_WINDOW
