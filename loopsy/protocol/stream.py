"""The session stream: binary frames between a client and a session, sans I/O.

One frame is one WebSocket binary message (or, between the daemon and a session's holder,
a ``u32`` length prefix then the frame). Byte 0 is the type; every integer is fixed-width
big-endian, so the phone's TypeScript reads a frame with one ``DataView``. The full table
with every field is in docs/PROTOCOL.md ("Session stream"); the golden vectors in
``tests/vectors/stream.json`` pin the bytes.

Output is numbered by byte offset in the session's output since it was created: an
``Output`` frame says where its first byte sits, so a client knows exactly what it holds
and can resume from there.

Types ``0x01``–``0x7F`` travel server → client, ``0x80``–``0xBF`` client → server, and
``0xC0``–``0xC2`` only between the daemon and a holder (JSON control messages); the daemon
refuses those from clients.

This module imports only the standard library: the holder process loads it.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, Final

from loopsy.protocol.errors import PayloadTooLarge, ProtocolError

# -- frame types ------------------------------------------------------------------------

OUTPUT: Final = 0x01
SNAPSHOT: Final = 0x02
ATTACHED: Final = 0x03
RESIZED: Final = 0x04
EXIT: Final = 0x05
ERROR: Final = 0x06

ATTACH: Final = 0x81
INPUT: Final = 0x82
RESIZE: Final = 0x83
SIGNAL: Final = 0x84
ACK: Final = 0x85

CONTROL: Final = 0xC0
REPLY: Final = 0xC1
EVENT: Final = 0xC2

SERVER_TYPES: Final = frozenset({OUTPUT, SNAPSHOT, ATTACHED, RESIZED, EXIT, ERROR})
CLIENT_TYPES: Final = frozenset({ATTACH, INPUT, RESIZE, SIGNAL, ACK})
HOLDER_TYPES: Final = frozenset({CONTROL, REPLY, EVENT})

TYPE_NAMES: Final = {
    OUTPUT: "OUTPUT",
    SNAPSHOT: "SNAPSHOT",
    ATTACHED: "ATTACHED",
    RESIZED: "RESIZED",
    EXIT: "EXIT",
    ERROR: "ERROR",
    ATTACH: "ATTACH",
    INPUT: "INPUT",
    RESIZE: "RESIZE",
    SIGNAL: "SIGNAL",
    ACK: "ACK",
    CONTROL: "CONTROL",
    REPLY: "REPLY",
    EVENT: "EVENT",
}

# -- limits -----------------------------------------------------------------------------

MAX_INPUT = 64 * 1024  # one INPUT frame; a paste larger than this is split by the client
MAX_FRAME = 8 << 20  # any frame at all (a snapshot of a huge screen is the largest)
MAX_COLS = 1000
MAX_ROWS = 500
ATTACH_FRESH: Final = 0x01  # ATTACH flag: "I hold nothing; send the screen"

# Signals a client may send, by name (numbers differ between Linux and macOS).
SIGNAL_NAMES: Final = frozenset(
    {"INT", "TERM", "HUP", "QUIT", "KILL", "TSTP", "STOP", "CONT", "WINCH", "USR1", "USR2"}
)

# EXIT kinds
EXITED: Final = 0  # value is the exit code
SIGNALLED: Final = 1  # value is the signal number
LOST: Final = 2  # the holder died (SIGKILL, crash): the status is unknown; value 0

_U64 = struct.Struct(">BQ")
_SIZE = struct.Struct(">BHH")
_SNAPSHOT = struct.Struct(">BQHH")
_ATTACHED = struct.Struct(">BQQHHII")
_EXIT = struct.Struct(">BQBi")
_ERROR = struct.Struct(">BH")
_ATTACH = struct.Struct(">BQHHB")
_PREFIX = struct.Struct(">I")


# -- decoded frames -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Output:
    offset: int  # offset of data[0] in the session's output
    data: bytes


@dataclass(frozen=True, slots=True)
class Snapshot:
    offset: int  # the screen as it was after output byte offset-1; Output resumes here
    cols: int
    rows: int
    data: bytes  # ANSI bytes that rebuild the screen in a fresh terminal of this size


@dataclass(frozen=True, slots=True)
class Attached:
    start: int  # oldest offset still in the ring
    end: int  # offset of the next output byte
    cols: int
    rows: int
    window: int  # the server sends at most this many bytes beyond the last ACK
    ack_every: int  # ACK at least whenever this many bytes were rendered since the last ACK


@dataclass(frozen=True, slots=True)
class Resized:
    cols: int
    rows: int


@dataclass(frozen=True, slots=True)
class Exit:
    offset: int  # final end of the output: every byte before it has been sent
    kind: int  # EXITED, SIGNALLED or LOST
    value: int  # exit code or signal number

    @property
    def returncode(self) -> int | None:
        """Like ``subprocess``: the code, or minus the signal; None when unknown."""
        if self.kind == EXITED:
            return self.value
        if self.kind == SIGNALLED:
            return -self.value
        return None


@dataclass(frozen=True, slots=True)
class Error:
    code: int  # an HTTP status: 400 bad frame, 404, 409 exited, 413 too large, ...
    message: str


@dataclass(frozen=True, slots=True)
class Attach:
    offset: int  # the client holds every output byte before this offset
    cols: int = 0  # its terminal size, applied before any snapshot; 0 = leave the size
    rows: int = 0
    fresh: bool = False  # holds nothing: wants a snapshot whatever the offset

    @property
    def flags(self) -> int:
        return ATTACH_FRESH if self.fresh else 0


@dataclass(frozen=True, slots=True)
class Input:
    data: bytes


@dataclass(frozen=True, slots=True)
class Resize:
    cols: int
    rows: int


@dataclass(frozen=True, slots=True)
class Signal:
    name: str  # one of SIGNAL_NAMES, without "SIG"


@dataclass(frozen=True, slots=True)
class Ack:
    offset: int  # the client has rendered every byte before this offset


@dataclass(frozen=True, slots=True)
class Control:
    """Daemon ↔ holder only: a JSON object (request, reply or event by ``kind``)."""

    kind: int  # CONTROL, REPLY or EVENT
    body: dict[str, Any]


Frame = (
    Output
    | Snapshot
    | Attached
    | Resized
    | Exit
    | Error
    | Attach
    | Input
    | Resize
    | Signal
    | Ack
    | Control
)


# -- encoding -----------------------------------------------------------------------------


def output_header(offset: int) -> bytes:
    """The 9 bytes before an OUTPUT frame's data (so a sender can avoid copying data)."""
    return _U64.pack(OUTPUT, offset)


def encode(frame: Frame) -> bytes:
    """The wire bytes of ``frame``; checks ranges so a bad frame is never sent."""
    match frame:
        case Output(offset, data):
            return _U64.pack(OUTPUT, offset) + data
        case Snapshot(offset, cols, rows, data):
            _check_size(cols, rows)
            return _SNAPSHOT.pack(SNAPSHOT, offset, cols, rows) + data
        case Attached(start, end, cols, rows, window, ack_every):
            return _ATTACHED.pack(ATTACHED, start, end, cols, rows, window, ack_every)
        case Resized(cols, rows):
            return _SIZE.pack(RESIZED, cols, rows)
        case Exit(offset, kind, value):
            return _EXIT.pack(EXIT, offset, kind, value)
        case Error(code, message):
            return _ERROR.pack(ERROR, code) + message.encode("utf-8")[:1024]
        case Attach(offset, cols, rows, fresh):
            if (cols, rows) != (0, 0):
                _check_size(cols, rows)
            return _ATTACH.pack(ATTACH, offset, cols, rows, ATTACH_FRESH if fresh else 0)
        case Input(data):
            if len(data) > MAX_INPUT:
                raise PayloadTooLarge(f"INPUT frame over {MAX_INPUT} bytes; split it")
            return bytes([INPUT]) + data
        case Resize(cols, rows):
            _check_size(cols, rows)
            return _SIZE.pack(RESIZE, cols, rows)
        case Signal(name):
            _check_signal(name)
            return bytes([SIGNAL]) + name.encode("ascii")
        case Ack(offset):
            return _U64.pack(ACK, offset)
        case Control(kind, body):
            return bytes([kind]) + json.dumps(body, separators=(",", ":")).encode()
    raise TypeError(f"not a frame: {frame!r}")


def prefixed(frame: bytes) -> bytes:
    """A frame with its ``u32`` length prefix, as it travels on the holder socket."""
    return _PREFIX.pack(len(frame)) + frame


def length_prefix(size: int) -> bytes:
    return _PREFIX.pack(size)


# -- decoding -----------------------------------------------------------------------------


def frame_type(frame: bytes) -> int:
    if not frame:
        raise ProtocolError("empty frame: a frame starts with its type byte")
    return frame[0]


def decode(frame: bytes) -> Frame:
    """Decode one frame; raise :class:`ProtocolError` naming what is wrong with it."""
    if len(frame) > MAX_FRAME:
        raise PayloadTooLarge(f"frame of {len(frame)} bytes; the limit is {MAX_FRAME}")
    kind = frame_type(frame)
    name = TYPE_NAMES.get(kind)
    if name is None:
        raise ProtocolError(f"unknown frame type 0x{kind:02x}")
    if kind == OUTPUT:
        _at_least(frame, 9, name)
        return Output(_U64.unpack_from(frame)[1], bytes(frame[9:]))
    if kind == INPUT:
        if len(frame) - 1 > MAX_INPUT:
            raise PayloadTooLarge(
                f"INPUT frame of {len(frame) - 1} bytes; the limit is {MAX_INPUT}"
            )
        return Input(bytes(frame[1:]))
    if kind == ACK:
        _exactly(frame, 9, name)
        return Ack(_U64.unpack_from(frame)[1])
    if kind in (RESIZE, RESIZED):
        _exactly(frame, 5, name)
        _, cols, rows = _SIZE.unpack_from(frame)
        _check_size(cols, rows)
        return Resize(cols, rows) if kind == RESIZE else Resized(cols, rows)
    if kind == ATTACH:
        _exactly(frame, _ATTACH.size, name)
        _, offset, cols, rows, flags = _ATTACH.unpack_from(frame)
        if flags & ~ATTACH_FRESH:
            raise ProtocolError(f"ATTACH has unknown flags 0x{flags:02x}")
        if (cols, rows) != (0, 0):
            _check_size(cols, rows)
        return Attach(offset, cols, rows, bool(flags & ATTACH_FRESH))
    if kind == SIGNAL:
        try:
            signame = bytes(frame[1:]).decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError("SIGNAL name is not ASCII") from None
        _check_signal(signame)
        return Signal(signame)
    if kind == SNAPSHOT:
        _at_least(frame, _SNAPSHOT.size, name)
        _, offset, cols, rows = _SNAPSHOT.unpack_from(frame)
        return Snapshot(offset, cols, rows, bytes(frame[_SNAPSHOT.size :]))
    if kind == ATTACHED:
        _exactly(frame, _ATTACHED.size, name)
        _, start, end, cols, rows, window, ack_every = _ATTACHED.unpack_from(frame)
        return Attached(start, end, cols, rows, window, ack_every)
    if kind == EXIT:
        _exactly(frame, _EXIT.size, name)
        _, offset, exit_kind, value = _EXIT.unpack_from(frame)
        return Exit(offset, exit_kind, value)
    if kind == ERROR:
        _at_least(frame, _ERROR.size, name)
        code = _ERROR.unpack_from(frame)[1]
        return Error(code, bytes(frame[_ERROR.size :]).decode("utf-8", "replace"))
    # CONTROL, REPLY, EVENT
    try:
        body = json.loads(bytes(frame[1:]))
    except ValueError:
        raise ProtocolError(f"{name} frame is not JSON") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"{name} frame must hold a JSON object")
    return Control(kind, body)


def decode_client(frame: bytes) -> Frame:
    """Decode a frame that came from a client: only client → server types are allowed."""
    kind = frame_type(frame)
    if kind not in CLIENT_TYPES:
        name = TYPE_NAMES.get(kind)
        if name is None:
            raise ProtocolError(f"unknown frame type 0x{kind:02x}")
        raise ProtocolError(f"frame type {name} (0x{kind:02x}) is not sent by clients")
    return decode(frame)


def _exactly(frame: bytes, size: int, name: str) -> None:
    if len(frame) != size:
        raise ProtocolError(f"{name} frame is {len(frame)} bytes; it must be {size}")


def _at_least(frame: bytes, size: int, name: str) -> None:
    if len(frame) < size:
        raise ProtocolError(f"{name} frame is {len(frame)} bytes; it needs at least {size}")


def _check_size(cols: int, rows: int) -> None:
    if not (1 <= cols <= MAX_COLS and 1 <= rows <= MAX_ROWS):
        raise ProtocolError(
            f"terminal size {cols}x{rows} is out of range (1..{MAX_COLS} x 1..{MAX_ROWS})"
        )


def _check_signal(name: str) -> None:
    if name not in SIGNAL_NAMES:
        raise ProtocolError(
            f"signal {name!r} is not allowed; use one of {', '.join(sorted(SIGNAL_NAMES))}"
        )


# -- length-prefixed framing (the holder socket) --------------------------------------------


class FrameSplitter:
    """Cuts a byte stream of ``u32``-length-prefixed frames into frames.

    Feed it whatever the socket gave; it keeps at most one partial frame.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, data: bytes | memoryview) -> list[bytes]:
        buffer = self._buffer
        if buffer:
            buffer += data
            frames, used = self._split(buffer)
            if used:
                del buffer[:used]
            return frames
        # Nothing held: cut the frames straight out of ``data`` (one copy each, where going
        # through the buffer copied every byte three times) and keep only its tail.
        frames, used = self._split(data)
        if used < len(data):
            buffer += data[used:]
        return frames

    def _split(self, data: bytes | bytearray | memoryview) -> tuple[list[bytes], int]:
        frames: list[bytes] = []
        position = 0
        available = len(data)
        with memoryview(data) as view:
            while available - position >= 4:
                (size,) = _PREFIX.unpack_from(view, position)
                if size > self.max_frame:
                    raise PayloadTooLarge(f"frame of {size} bytes; the limit is {self.max_frame}")
                if available - position - 4 < size:
                    break
                frames.append(bytes(view[position + 4 : position + 4 + size]))
                position += 4 + size
        return frames, position

    @property
    def pending(self) -> int:
        """Bytes held of a frame not yet complete."""
        return len(self._buffer)
