"""The holder's connections: the daemon's links to it, one :class:`Conn` each, on its unix
socket. Each speaks the session stream with a ``u32`` length before every frame: an
attach connection sends ATTACH and gets the output straight from the ring, as far as its
flow-control window allows; any connection may send CONTROL requests
(:mod:`.holder_control`) and ``watch`` for EVENTs.

Sending never blocks the loop: what a socket does not take waits in ``Conn.out`` and the
loop polls for POLLOUT; an attached connection is pumped again once that is flushed.
"""

from __future__ import annotations

import select
import socket
import time
from typing import TYPE_CHECKING, Any

from loopsy.daemon.sessions import holder_control
from loopsy.protocol import stream
from loopsy.protocol.attach import Replay, plan_attach
from loopsy.protocol.errors import PayloadTooLarge, ProtocolError

if TYPE_CHECKING:
    from loopsy.daemon.sessions.holder import Holder

MAX_OUTPUT_FRAME = 256 * 1024
RECEIVE_BUFFER = 64 * 1024  # one recv from a connection (an INPUT frame is at most this)
POLL_IN = select.POLLIN | select.POLLPRI
POLL_ERR = select.POLLERR | select.POLLHUP | select.POLLNVAL


class Conn:
    __slots__ = ("attached", "closing", "exit_sent", "fd", "out", "sock", "splitter", "watching")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.splitter = stream.FrameSplitter()
        self.out = bytearray()  # encoded bytes not yet accepted by the socket
        self.attached = False
        self.watching = False
        self.exit_sent = False
        self.closing = False  # close once ``out`` is flushed


class Clients:
    def __init__(self, holder: Holder) -> None:
        self.holder = holder
        self.flow = holder.flow
        self.ring = holder.output.ring
        self.conns: dict[int, Conn] = {}
        # Into one buffer kept here: recv(256 KiB) mapped and unmapped a fresh 256 KiB
        # object per frame (three syscalls more per keystroke).
        self.receive_buffer = bytearray(RECEIVE_BUFFER)
        self.receive_view = memoryview(self.receive_buffer)

    def accept(self, listener: socket.socket) -> None:
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        conn = Conn(sock)
        self.conns[conn.fd] = conn
        self.holder.watch(conn.fd, POLL_IN)

    def ready(self, fd: int, mask: int) -> None:
        """The loop's poll says ``fd`` (one of the connections) can be written or read."""
        conn = self.conns.get(fd)
        if conn is None:
            return
        if mask & select.POLLOUT:
            self.flush(conn)
        if mask & (POLL_IN | POLL_ERR) and fd in self.conns:
            self.receive(conn)

    # -- frames in ------------------------------------------------------------------------

    def receive(self, conn: Conn) -> None:
        try:
            size = conn.sock.recv_into(self.receive_buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            size = 0
        if not size:
            self.close(conn)
            return
        try:
            for frame in conn.splitter.feed(self.receive_view[:size]):
                if conn.closing:
                    break
                self._frame(conn, frame)
        except PayloadTooLarge as exc:
            self.fail(conn, 413, exc.message)
        except ProtocolError as exc:
            self.fail(conn, 400, exc.message)
        self.update(conn)

    def _frame(self, conn: Conn, raw: bytes) -> None:
        holder = self.holder
        frame = stream.decode(raw)
        match frame:
            case stream.Input(data):
                if holder.status is not None:
                    self.send_error(conn, 409, "the session has exited; input is closed")
                else:
                    holder.write_input(data)
            case stream.Ack(offset):
                if not conn.attached:
                    raise ProtocolError("ACK before ATTACH")
                self.flow.ack(conn.fd, offset, self.ring.end, time.monotonic())
                self.pump(conn)
            case stream.Resize(cols, rows):
                holder.request_size(cols, rows)
            case stream.Signal(name):
                if holder.status is not None:
                    self.send_error(conn, 409, "the session has exited; nothing to signal")
                else:
                    holder.send_signal(name)
            case stream.Attach():
                self.attach(conn, frame)
            case stream.Control(stream.CONTROL, body):
                holder_control.handle(holder, conn, body)
            case _:
                raise ProtocolError(f"a {type(frame).__name__.upper()} frame is not a request")

    def attach(self, conn: Conn, request: stream.Attach) -> None:
        if conn.attached:
            raise ProtocolError("this connection is already attached")
        holder = self.holder
        if request.cols:
            holder.apply_size(request.cols, request.rows)
            holder.debouncer.applied(time.monotonic())
        plan = plan_attach(request.offset, request.fresh, self.ring.start, self.ring.end)
        conn.attached = True
        self.send_frame(
            conn,
            stream.encode(
                stream.Attached(
                    self.ring.start,
                    self.ring.end,
                    holder.cols,
                    holder.rows,
                    self.flow.high,
                    self.flow.ack_every,
                )
            ),
        )
        if isinstance(plan, Replay):
            self.flow.attach(conn.fd, plan.offset)
        else:
            offset, frame = holder.output.snapshot(holder.cols, holder.rows)
            self.flow.attach(conn.fd, offset)
            self.send_frame(conn, frame)
        self.pump(conn)

    # -- output out -----------------------------------------------------------------------

    def pump_attached(self) -> None:
        """New output: send each attached connection what its window allows."""
        for conn in list(self.conns.values()):
            if conn.attached:
                self.pump(conn)

    def pump(self, conn: Conn) -> None:
        """Send ``conn`` what its window allows, straight from the ring."""
        holder = self.holder
        while not conn.out and not conn.closing and conn.fd in self.conns:
            window = self.flow.window(conn.fd)
            if window.sent < self.ring.start:  # fell behind the ring: resync by snapshot
                offset, frame = holder.output.snapshot(holder.cols, holder.rows)
                self.flow.reset(conn.fd, offset)
                self.send_frame(conn, frame)
                continue
            count = min(self.flow.sendable(conn.fd, self.ring.end), MAX_OUTPUT_FRAME)
            if count <= 0:
                break
            offset = window.sent
            data = self.ring.read(offset, count)
            self.flow.sent(conn.fd, offset + len(data))
            header = stream.length_prefix(9 + len(data)) + stream.output_header(offset)
            self.send_parts(conn, header, data)
        if (
            holder.finished
            and not conn.exit_sent
            and not conn.out
            and conn.fd in self.conns
            and self.flow.window(conn.fd).sent >= self.ring.end
            and holder.status
        ):
            conn.exit_sent = True
            kind, value = holder.status
            self.send_frame(conn, stream.encode(stream.Exit(self.ring.end, kind, value)))

    def resized(self, cols: int, rows: int) -> None:
        """Tell attached connections (RESIZED) and watching ones (an EVENT)."""
        resized = stream.encode(stream.Resized(cols, rows))
        for conn in list(self.conns.values()):
            if conn.attached:
                self.send_frame(conn, resized)
            if conn.watching:
                self.send_control(
                    conn, stream.EVENT, {"event": "resized", "cols": cols, "rows": rows}
                )

    def exited(self, event: dict[str, Any]) -> None:
        """Tell watching connections (an EVENT); attached ones get EXIT after the output."""
        for conn in list(self.conns.values()):
            if conn.watching:
                self.send_control(conn, stream.EVENT, event)
            if conn.attached:
                self.pump(conn)

    def send_frame(self, conn: Conn, frame: bytes) -> None:
        self.send_parts(conn, stream.length_prefix(len(frame)), frame)

    def send_control(self, conn: Conn, kind: int, body: dict[str, Any]) -> None:
        self.send_frame(conn, stream.encode(stream.Control(kind, body)))

    def send_error(self, conn: Conn, code: int, message: str) -> None:
        self.send_frame(conn, stream.encode(stream.Error(code, message)))

    def fail(self, conn: Conn, code: int, message: str) -> None:
        """A fatal error on this connection: say why, then close it."""
        self.send_error(conn, code, message)
        conn.closing = True
        self.update(conn)

    def send_parts(self, conn: Conn, *parts: bytes) -> None:
        if conn.out:
            for part in parts:
                conn.out += part
            return
        try:
            sent = conn.sock.sendmsg(parts)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close(conn)
            return
        total = sum(len(p) for p in parts)
        if sent < total:
            conn.out = bytearray(b"".join(parts)[sent:])
            self.update(conn)

    def flush(self, conn: Conn) -> None:
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close(conn)
            return
        del conn.out[:sent]
        if not conn.out and conn.attached:
            self.pump(conn)
        self.update(conn)

    # -- registrations and closing --------------------------------------------------------

    def update(self, conn: Conn) -> None:
        """Poll ``conn`` for what it waits for: input unless it is closing or the PTY's
        input is backed up, output while ``out`` holds bytes."""
        if conn.fd not in self.conns:
            return
        if conn.closing and not conn.out:
            self.close(conn)
            return
        mask = 0 if (conn.closing or self.holder.input_full()) else POLL_IN
        if conn.out:
            mask |= select.POLLOUT
        self.holder.watch(conn.fd, mask or select.POLLHUP)

    def update_all(self) -> None:
        for conn in list(self.conns.values()):
            self.update(conn)

    def close(self, conn: Conn) -> None:
        conn.closing = True
        if self.conns.pop(conn.fd, None) is None:
            return
        holder = self.holder
        holder.unwatch(conn.fd)
        self.flow.detach(conn.fd)
        holder.waiters = [w for w in holder.waiters if w.conn is not conn]
        conn.sock.close()
        if conn.attached:
            holder.fit_ring()  # a fast reader's window (and the ring's room for it) is gone

    def close_all(self) -> None:
        for conn in list(self.conns.values()):
            self.close(conn)
