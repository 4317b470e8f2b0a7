"""The tunnel inside the end-to-end channel: HTTP-like requests and WebSocket-like streams,
multiplexed, with per-stream and per-connection flow control. Sans-I/O.

A channel frame's plaintext is one or more tunnel frames, back to back::

    kind     u8
    stream   u32 big-endian   0 = the connection itself (WINDOW, PING, PONG)
    length   u32 big-endian   payload length
    payload  length bytes

Only the phone opens streams: HTTP_REQUEST or WS_OPEN on an id greater than every id it
used before on this connection. Heads are UTF-8 JSON. The
daemon's API reaches the phone unchanged: the request head is the method, the path under
``/api/v1`` with its query string, and the headers; the answer is the status, headers and
body. A WebSocket carries the same messages the daemon's route sends.

Flow control counts the payload bytes of DATA and WS_MESSAGE frames. Each side may send at
most the peer's window, per stream (initially :data:`STREAM_WINDOW`) and for the whole
connection (initially :data:`CONNECTION_WINDOW`); the receiver grants more with WINDOW
frames as its application consumes. A peer that overruns a window is a protocol error.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from loopsy.protocol.errors import ChannelError

HEADER = struct.Struct(">BII")
STREAM_WINDOW = 256 * 1024  # >= a whole agent repaint (~80 KB), so one is never split
CONNECTION_WINDOW = 1024 * 1024
MAX_STREAMS = 64
MAX_HEAD = 64 * 1024
MAX_STREAM_ID = (1 << 32) - 1


class Kind(IntEnum):
    HTTP_REQUEST = 0x01  # JSON {"method", "path", "headers": [[name, value], ...]}
    HTTP_RESPONSE = 0x02  # JSON {"status", "headers": [[name, value], ...]}
    DATA = 0x03  # an HTTP body chunk (counted by flow control)
    END = 0x04  # the sender's body is complete (empty payload)
    WS_OPEN = 0x05  # JSON {"path", "headers", "subprotocols": [...]}
    WS_ACCEPT = 0x06  # JSON {"subprotocol": str | null}
    WS_MESSAGE = 0x07  # u8 flags (0x01 text, 0x80 more fragments follow), data (counted)
    WS_CLOSE = 0x08  # u16 close code, UTF-8 reason
    WINDOW = 0x09  # u32 window increment; stream 0 is the connection window
    RESET = 0x0A  # u16 code (an HTTP status or WebSocket close code), UTF-8 reason
    PING = 0x0B  # stream 0; up to 64 opaque bytes, answered by PONG with the same bytes
    PONG = 0x0C


COUNTED = (Kind.DATA, Kind.WS_MESSAGE)


@dataclass(frozen=True)
class Frame:
    kind: Kind
    stream: int
    payload: bytes = b""

    def encode(self) -> bytes:
        return HEADER.pack(self.kind, self.stream, len(self.payload)) + self.payload


def encode_frames(frames: list[Frame]) -> bytes:
    return b"".join(f.encode() for f in frames)


Bytes = bytes | bytearray | memoryview
_KINDS = {int(k): k for k in Kind}


def split_frames(plaintext: Bytes) -> list[tuple[Kind, int, memoryview]]:
    """The tunnel frames of one channel message as (kind, stream, payload view): no copy of
    any payload, so a receiver copies a message once, when it hands it on."""
    frames = []
    view = memoryview(plaintext)
    offset = 0
    total = len(view)
    if total == 0:
        raise ChannelError("empty tunnel message")
    while offset < total:
        if total - offset < HEADER.size:
            raise ChannelError("truncated tunnel frame header")
        kind, stream, length = HEADER.unpack_from(view, offset)
        offset += HEADER.size
        if length > total - offset:
            raise ChannelError("tunnel frame longer than its message")
        frame_kind = _KINDS.get(kind)
        if frame_kind is None:
            raise ChannelError(f"unknown tunnel frame kind 0x{kind:02x}")
        frames.append((frame_kind, stream, view[offset : offset + length]))
        offset += length
    return frames


def decode_frames(plaintext: Bytes) -> list[Frame]:
    return [Frame(kind, stream, bytes(data)) for kind, stream, data in split_frames(plaintext)]


# -- heads ------------------------------------------------------------------------------

Headers = list[tuple[str, str]]


def encode_head(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def decode_head(payload: bytes, what: str) -> dict[str, Any]:
    if len(payload) > MAX_HEAD:
        raise ChannelError(f"{what} head over {MAX_HEAD} bytes")
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ChannelError(f"{what} head is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise ChannelError(f"{what} head is not a JSON object")
    return value


def headers_of(value: Any, what: str) -> Headers:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(h, list) and len(h) == 2 and all(isinstance(x, str) for x in h) for h in value
    ):
        raise ChannelError(f"{what}: headers must be a list of [name, value] strings")
    headers = [(str(h[0]), str(h[1])) for h in value]
    for name, val in headers:
        if not name or any(c in name for c in " :\r\n\x00") or any(c in val for c in "\r\n\x00"):
            raise ChannelError(f"{what}: malformed header {name!r}")
    return headers


@dataclass(frozen=True)
class RequestHead:
    method: str
    path: str
    headers: Headers

    def frame(self, stream: int) -> Frame:
        body = {"method": self.method, "path": self.path, "headers": self.headers}
        return Frame(Kind.HTTP_REQUEST, stream, encode_head(body))

    @classmethod
    def decode(cls, payload: bytes) -> RequestHead:
        value = decode_head(payload, "request")
        method, path = value.get("method"), value.get("path")
        if not isinstance(method, str) or not method.isalpha() or len(method) > 16:
            raise ChannelError("request: method must be an HTTP method name")
        return cls(method.upper(), check_path(path), headers_of(value.get("headers"), "request"))


@dataclass(frozen=True)
class ResponseHead:
    status: int
    headers: Headers

    def frame(self, stream: int) -> Frame:
        body = {"status": self.status, "headers": self.headers}
        return Frame(Kind.HTTP_RESPONSE, stream, encode_head(body))

    @classmethod
    def decode(cls, payload: bytes) -> ResponseHead:
        value = decode_head(payload, "response")
        status = value.get("status")
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ChannelError("response: status must be 100..599")
        return cls(status, headers_of(value.get("headers"), "response"))


@dataclass(frozen=True)
class OpenHead:
    path: str
    headers: Headers
    subprotocols: list[str]

    def frame(self, stream: int) -> Frame:
        body = {"path": self.path, "headers": self.headers, "subprotocols": self.subprotocols}
        return Frame(Kind.WS_OPEN, stream, encode_head(body))

    @classmethod
    def decode(cls, payload: bytes) -> OpenHead:
        value = decode_head(payload, "websocket open")
        subprotocols = value.get("subprotocols") or []
        if not isinstance(subprotocols, list) or not all(isinstance(s, str) for s in subprotocols):
            raise ChannelError("websocket open: subprotocols must be a list of strings")
        return cls(
            check_path(value.get("path")),
            headers_of(value.get("headers"), "websocket open"),
            [str(s) for s in subprotocols],
        )


def accept_frame(stream: int, subprotocol: str | None) -> Frame:
    return Frame(Kind.WS_ACCEPT, stream, encode_head({"subprotocol": subprotocol}))


def decode_accept(payload: bytes) -> str | None:
    value = decode_head(payload, "websocket accept").get("subprotocol")
    if value is not None and not isinstance(value, str):
        raise ChannelError("websocket accept: subprotocol must be a string or null")
    return value


def check_path(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 8192:
        raise ChannelError("path must be an absolute path such as /api/v1/status")
    if any(ord(c) < 33 or ord(c) == 127 for c in path) or "#" in path:
        raise ChannelError("path has spaces, control characters or a fragment")
    return path


TEXT = 0x01
MORE = 0x80  # more fragments of this message follow
MAX_MESSAGE = 16 << 20  # a reassembled WebSocket message, like the daemon's own limit
PIECE = 64 * 1024  # fragment size: large for throughput, small enough to share a window


def message_frame(stream: int, message: bytes | str) -> Frame:
    """A whole message as one final fragment (use :func:`message_frames` to split)."""
    if isinstance(message, str):
        return Frame(Kind.WS_MESSAGE, stream, bytes([TEXT]) + message.encode("utf-8"))
    return Frame(Kind.WS_MESSAGE, stream, b"\x00" + message)


def message_frames(stream: int, message: bytes | str, piece: int = PIECE) -> list[Frame]:
    """A WebSocket message as WS_MESSAGE fragments of at most ``piece`` bytes each; every
    fragment but the last has the MORE bit, all carry the text bit of the message."""
    text = isinstance(message, str)
    data = message.encode("utf-8") if isinstance(message, str) else message
    return [
        Frame(Kind.WS_MESSAGE, stream, head[HEADER.size :] + chunk)
        for head, chunk in message_pieces(stream, data, text=text, piece=piece)
    ]


def message_pieces(
    stream: int, data: Bytes, *, text: bool = False, piece: int = PIECE
) -> list[tuple[bytes, memoryview]]:
    """:func:`message_frames` encoded but not joined: for each fragment, its tunnel frame
    header with the flag byte, and a view of its data (``data`` is UTF-8 for a text
    message). Joining them all gives ``encode_frames(message_frames(...))``, so a sender
    copies the message once, into the channel message that carries it."""
    flag = TEXT if text else 0
    view = memoryview(data)
    size = len(view)
    starts = range(0, size, piece) if size else range(1)
    last = starts[-1]
    return [
        (
            HEADER.pack(Kind.WS_MESSAGE, stream, 1 + min(piece, size - start))
            + bytes((flag | (MORE if start != last else 0),)),
            view[start : start + piece],
        )
        for start in starts
    ]


def decode_message(payload: bytes) -> bytes | str:
    """A single-fragment message (tests and simple peers); see :class:`MessageAssembler`."""
    assembler = MessageAssembler()
    message = assembler.feed(payload)
    if message is None:
        raise ChannelError("websocket message: a fragment, not a whole message")
    return message


class MessageAssembler:
    """Joins WS_MESSAGE fragments of one stream back into messages."""

    def __init__(self, limit: int = MAX_MESSAGE) -> None:
        self.limit = limit
        self._parts: list[Bytes] = []
        self._size = 0
        self._text: bool | None = None

    def feed(self, payload: Bytes) -> bytes | str | None:
        """One WS_MESSAGE payload; the whole message once its last fragment is in. A view
        (from :func:`split_frames`) is kept as is until then: the message is copied once."""
        if not payload or payload[0] & ~(TEXT | MORE) & 0xFF:
            raise ChannelError("websocket message: flag byte must be 0x00/0x01, +0x80 for MORE")
        text = bool(payload[0] & TEXT)
        if self._text is not None and text != self._text:
            raise ChannelError("websocket message: fragments disagree on text or binary")
        self._text = text
        self._size += len(payload) - 1
        if self._size > self.limit:
            raise ChannelError(f"websocket message over {self.limit} bytes")
        self._parts.append(memoryview(payload)[1:])
        if payload[0] & MORE:
            return None
        data = b"".join(self._parts)
        self._parts, self._size, self._text = [], 0, None
        if not text:
            return data
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ChannelError("websocket text message is not UTF-8") from None


def close_frame(kind: Kind, stream: int, code: int, reason: str = "") -> Frame:
    return Frame(kind, stream, struct.pack(">H", code) + reason.encode("utf-8")[:123])


def decode_close(payload: Bytes) -> tuple[int, str]:
    if len(payload) < 2:
        raise ChannelError("close frame without a code")
    return struct.unpack(">H", payload[:2])[0], bytes(payload[2:]).decode("utf-8", "replace")


def window_frame(stream: int, increment: int) -> Frame:
    return Frame(Kind.WINDOW, stream, struct.pack(">I", increment))


def decode_window(payload: Bytes) -> int:
    if len(payload) != 4:
        raise ChannelError("window frame must carry 4 bytes")
    increment: int = struct.unpack(">I", payload)[0]
    if increment == 0:
        raise ChannelError("window increment of 0")
    return increment


# -- flow control -----------------------------------------------------------------------


class FlowControl:
    """Both directions' windows for one connection: what we may send, what the peer may."""

    def __init__(
        self, stream_window: int = STREAM_WINDOW, connection_window: int = CONNECTION_WINDOW
    ) -> None:
        self.stream_window = stream_window
        self.send_connection = connection_window
        self.receive_connection = connection_window
        self._connection_window = connection_window
        self._connection_consumed = 0
        self._send: dict[int, int] = {}
        self._receive: dict[int, int] = {}
        self._consumed: dict[int, int] = {}

    def open(self, stream: int) -> None:
        if stream in self._send:
            raise ChannelError(f"stream {stream} is already open")
        if len(self._send) >= MAX_STREAMS:
            raise ChannelError(f"more than {MAX_STREAMS} streams at once")
        self._send[stream] = self.stream_window
        self._receive[stream] = self.stream_window
        self._consumed[stream] = 0

    def close(self, stream: int) -> None:
        self._send.pop(stream, None)
        self._receive.pop(stream, None)
        self._consumed.pop(stream, None)

    def is_open(self, stream: int) -> bool:
        return stream in self._send

    @property
    def open_streams(self) -> int:
        return len(self._send)

    def sendable(self, stream: int) -> int:
        return max(0, min(self.send_connection, self._send.get(stream, 0)))

    def sent(self, stream: int, size: int) -> None:
        if size > self.sendable(stream):
            raise ChannelError("sending beyond the peer's window")
        self.send_connection -= size
        self._send[stream] -= size

    def granted(self, stream: int, increment: int) -> None:
        """The peer's WINDOW frame."""
        if stream == 0:
            self.send_connection += increment
        elif stream in self._send:
            self._send[stream] += increment
        if self.send_connection > 1 << 31 or self._send.get(stream, 0) > 1 << 31:
            raise ChannelError("window grown beyond 2 GiB")

    def received(self, stream: int, size: int) -> bool:
        """A counted frame arrived; the peer must have had the window for it. False when the
        stream is already closed here (a late frame): the caller drops the data and still
        reports it :meth:`consumed`, so the connection window is given back."""
        if size > self.receive_connection:
            raise ChannelError("the peer overran the connection's flow-control window")
        if stream in self._receive and size > self._receive[stream]:
            raise ChannelError(f"the peer overran stream {stream}'s flow-control window")
        self.receive_connection -= size
        if stream not in self._receive:
            return False
        self._receive[stream] -= size
        return True

    def consumed(self, stream: int, size: int) -> list[Frame]:
        """Our application took ``size`` bytes; the WINDOW frames to send now (batched so a
        grant goes out once half a window is used, not for every message)."""
        frames = []
        if stream in self._consumed:
            self._consumed[stream] += size
            if self._consumed[stream] >= self.stream_window // 2:
                grant, self._consumed[stream] = self._consumed[stream], 0
                self._receive[stream] += grant
                frames.append(window_frame(stream, grant))
        self._connection_consumed += size
        if self._connection_consumed >= self._connection_window // 2:
            grant, self._connection_consumed = self._connection_consumed, 0
            self.receive_connection += grant
            frames.append(window_frame(0, grant))
        return frames

    def owed(self) -> list[Frame]:
        """WINDOW frames for everything consumed and not granted yet, however little: a
        sender adds them to a message it sends anyway, so grants ride along with the data
        it has to send (a phone's ACKs) instead of travelling as messages of their own."""
        frames = []
        for stream, consumed in self._consumed.items():
            if consumed:
                self._consumed[stream] = 0
                self._receive[stream] += consumed
                frames.append(window_frame(stream, consumed))
        if self._connection_consumed:
            grant, self._connection_consumed = self._connection_consumed, 0
            self.receive_connection += grant
            frames.append(window_frame(0, grant))
        return frames
