"""The session holder: one small process per session that owns the PTY, so the session
outlives the daemon (restart, upgrade, crash).

It owns the PTY master and the program, the bounded ring of recent output, the headless
screen emulator and the optional asciinema recording, and serves the daemon over the unix
socket ``$LOOPSY_HOME/sessions/<id>/h.sock`` (0600 in a 0700 folder). Each connection
speaks the session stream (see :mod:`loopsy.protocol.stream`) with a ``u32`` length
before every frame: an *attach* connection sends ATTACH and gets output with per-client
flow control; any connection may send CONTROL requests (info, resize, read, screen, kill,
shutdown, ...) and ``watch`` for EVENTs (exit, resize).

One thread, one ``poll`` loop, no asyncio: the hot path is ``os.read`` of up to 256 KB,
append to the ring (no copy), ``sendmsg`` of header + data to each client that has
window. The emulator is fed from the ring when the loop is idle, or when the ring must
drop bytes it has not consumed: never in front of a client's bytes.

After the program exits the holder stays, with the final screen and status, until the
daemon removes the session.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import time
from typing import Any

from loopsy.daemon.sessions import holder_control
from loopsy.daemon.sessions.child import Child, foreground_group, set_size, signal_group
from loopsy.daemon.sessions.holder_spec import HolderSpec, write_meta
from loopsy.daemon.sessions.recording import Recorder
from loopsy.daemon.sessions.ring import Ring
from loopsy.protocol import stream
from loopsy.protocol.attach import Replay, plan_attach
from loopsy.protocol.errors import PayloadTooLarge, ProtocolError
from loopsy.protocol.flow import FlowControl, ResizeDebouncer
from loopsy.terminal.screen import Screen

READ_BATCH = 256 * 1024  # PTY bytes gathered before they are sent on
MAX_OUTPUT_FRAME = 256 * 1024
IDLE_FEED = 4096  # emulator bytes fed at a time when idle: ~1 ms of escape-heavy output
IDLE_SLICE = 0.001  # seconds of emulation per idle loop turn, in IDLE_FEED pieces
RECEIVE_BUFFER = 64 * 1024  # one recv from a connection (an INPUT frame is at most this)
MAX_WINDOW = 2 << 20  # a fast reader's window grows up to this (see loopsy.protocol.flow)
FORCED_FEED = 512 * 1024  # emulator bytes fed ahead when the ring must drop unfed bytes
SHORT_READ = 1024  # a PTY read this short drained the PTY (streaming reads are ~4 KiB)
INPUT_HIGH = 64 * 1024  # stop reading clients' input while this much awaits the PTY
EXIT_GRACE = 2.0  # after the program exits, wait this long for the PTY to drain
POLL_IN = select.POLLIN | select.POLLPRI
POLL_ERR = select.POLLERR | select.POLLHUP | select.POLLNVAL


def ring_capacity(configured: int, high: int) -> int:
    """The ring keeps at least what a client that keeps acking can be behind: its window
    (``high``: the largest in use), one PTY read past it, and the two reads past any window
    at the program's exit (when it is reaped, and when the exit grace is up). So only a
    client that stops acking (while another keeps the PTY read) falls off the ring."""
    return max(configured, high + 3 * READ_BATCH)


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


class Holder:
    def __init__(self, spec: HolderSpec, listener: socket.socket, child: Child, wakeup: int):
        self.spec = spec
        self.listener = listener
        self.child = child
        self.master: int | None = child.master
        self.wakeup = wakeup
        self.cols, self.rows = spec.cols, spec.rows
        self.ring = Ring(ring_capacity(spec.ring_bytes, spec.high), start=spec.start_offset)
        self.screen = Screen(spec.cols, spec.rows, scrollback=spec.scrollback)
        self.fed = spec.start_offset  # the emulator has consumed output before this
        self.markers: list[tuple[int, int, int]] = []  # (offset, cols, rows) resizes to feed
        self.flow: FlowControl[int] = FlowControl(spec.high, spec.low, max_high=MAX_WINDOW)
        self.debouncer = ResizeDebouncer(spec.debounce)
        self.recorder = (
            Recorder(
                spec.directory, spec.cols, spec.rows, max_bytes=spec.record_max, title=spec.name
            )
            if spec.record
            else None
        )
        self.conns: dict[int, Conn] = {}
        self.poller = select.poll()
        self.registered: dict[int, int] = {}
        self.input = bytearray()
        self.status: tuple[int, int] | None = None  # (kind, value) once the program is reaped
        self.exit_deadline: float | None = None
        self.kill_deadline: float | None = None
        self.finished = False  # exit reported
        self.ended_at: float | None = None
        self.running = True
        self.waiters: list[holder_control.ReadWaiter] = []
        self.receive_buffer = bytearray(RECEIVE_BUFFER)
        self.receive_view = memoryview(self.receive_buffer)

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        self._watch(self.listener.fileno(), select.POLLIN)
        self._watch(self.wakeup, select.POLLIN)
        while self.running:
            self._update_master()
            timeout = self._timeout()
            try:
                events = self.poller.poll(timeout)
            except InterruptedError:
                continue
            for fd, mask in events:
                self._dispatch(fd, mask)
            self._timers(time.monotonic(), idle=not events)
            if not events:
                if self.fed < self.ring.end:
                    self._feed_slice()
                if self.recorder is not None and self.fed >= self.ring.end:
                    self.recorder.flush()  # a no-op unless something was written
        self._close_all()

    def _feed_slice(self) -> None:
        """Catch the emulator up for about IDLE_SLICE: plain text goes by the 100 KB (in
        growing pieces), an escape-heavy repaint by the few KB, and an event waits at most
        about that long."""
        deadline = time.monotonic() + IDLE_SLICE
        piece = IDLE_FEED
        while self.fed < self.ring.end:
            self.feed_screen(min(self.ring.end, self.fed + piece))
            if time.monotonic() >= deadline:
                return
            piece = min(2 * piece, READ_BATCH)  # fast going: bigger pieces, fewer cut lines

    def _dispatch(self, fd: int, mask: int) -> None:
        if fd == self.master:
            if mask & select.POLLOUT:
                self._write_input()
            if mask & (POLL_IN | POLL_ERR):
                self.read_pty()
        elif fd == self.listener.fileno():
            self._accept()
        elif fd == self.wakeup:
            self._drain_wakeup()
        else:
            conn = self.conns.get(fd)
            if conn is None:
                return
            if mask & select.POLLOUT:
                self._flush(conn)
            if mask & (POLL_IN | POLL_ERR) and fd in self.conns:
                self._receive(conn)

    def _timeout(self) -> int:
        if self.fed < self.ring.end:
            return 0
        now = time.monotonic()
        deadlines = [
            d
            for d in (self.debouncer.deadline, self.exit_deadline, self.kill_deadline)
            if d is not None
        ]
        deadlines += [w.deadline for w in self.waiters]
        if not deadlines:
            return 1000
        return max(0, min(1000, int((min(deadlines) - now) * 1000) + 1))

    def _timers(self, now: float, idle: bool) -> None:
        size = self.debouncer.due(now)
        if size is not None:
            self.apply_size(*size)
        if idle and self.status is None and not self.finished:
            self._reap()  # SIGCHLD wakes the loop; this is the net under it, off the hot path
        if self.exit_deadline is not None and now >= self.exit_deadline:
            self.finish()
        if self.kill_deadline is not None and now >= self.kill_deadline:
            self.kill_deadline = None
            if self.status is None:
                self._signal_all(signal.SIGKILL)
        if self.waiters:
            holder_control.expire_waiters(self, now)

    # -- the PTY ------------------------------------------------------------------------------

    def read_pty(self, drain: bool = False) -> None:
        """Read what the PTY holds (up to READ_BATCH). A short read ends the batch without
        the extra read that would only say EAGAIN (a keystroke's echo costs one syscall
        less); ``drain`` reads on to EAGAIN or EIO."""
        master = self.master
        if master is None:
            return
        chunks: list[bytes] = []
        total = 0
        closed = False
        while total < READ_BATCH:
            try:
                data = os.read(master, min(65536, READ_BATCH - total))
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                data = b""
            if not data:  # EIO: every slave fd is closed and the buffer is drained
                closed = True
                break
            chunks.append(data)
            total += len(data)
            if len(data) < SHORT_READ and not drain:
                break
        if chunks:
            self.produced(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        if closed:  # after the last bytes are in the ring: the exit is reported after them
            self._pty_closed()

    def produced(self, data: bytes) -> None:
        self.ring.append(data)
        if self.recorder is not None:
            self.recorder.output(data)
        end = self.ring.end
        self.flow.produced(end)
        for conn in list(self.conns.values()):
            if conn.attached:
                self.pump(conn)
        if self.waiters:
            holder_control.wake_waiters(self)
        if not self.fit_ring() and end - self.fed <= IDLE_FEED:
            # A little output (an echo, a prompt): the clients have it already; feed it now
            # rather than in one more loop turn (a poll, maybe a waitpid) for it alone.
            self.feed_screen(end)

    def fit_ring(self) -> bool:
        """Size the ring for the attached clients' windows (they grow for fast readers) and
        drop what it holds beyond that, feeding the emulator first; True if it dropped."""
        self.ring.capacity = ring_capacity(self.spec.ring_bytes, self.flow.largest_high())
        if not self.ring.over_capacity():
            return False
        # Feed FORCED_FEED more than needed so forced feeding happens rarely and in bulk.
        self.feed_screen(max(self.fed, self.ring.end - self.ring.capacity + FORCED_FEED))
        self.ring.trim(keep_from=self.screen_offset)
        return True

    def _pty_closed(self) -> None:
        if self.master is not None:
            self._unwatch(self.master)
            os.close(self.master)
            self.master = None
        if self.status is not None:
            self.finish()

    def _update_master(self) -> None:
        if self.master is None:
            return
        mask = 0
        if self.flow.reading_allowed():
            # Even after the program exited: a process it left behind may still write, and
            # a lone slow client must not fall off the ring for it. finish() drains the
            # rest (one batch, which the ring has room for) when EXIT_GRACE is up.
            mask |= POLL_IN
        if self.input:
            mask |= select.POLLOUT
        if mask:
            self._watch(self.master, mask)
        else:
            self._unwatch(self.master)

    def write_input(self, data: bytes) -> None:
        self.input += data
        self._write_input()

    def _write_input(self) -> None:
        was_full = len(self.input) > INPUT_HIGH
        master = self.master
        if master is None:
            self.input.clear()
        while self.input and master is not None:
            try:
                written = os.write(master, self.input[:65536])
            except BlockingIOError:
                break
            except OSError:
                self.input.clear()
                break
            del self.input[:written]
        if was_full and len(self.input) <= INPUT_HIGH:
            for conn in list(self.conns.values()):
                self._update_conn(conn)

    # -- exit ---------------------------------------------------------------------------------

    def _drain_wakeup(self) -> None:
        try:
            while os.read(self.wakeup, 512):
                pass
        except BlockingIOError:
            pass
        self._reap()

    def _reap(self) -> None:
        if self.status is not None:
            return
        try:
            pid, code = os.waitpid(self.child.pid, os.WNOHANG)
        except ChildProcessError:
            pid, code = self.child.pid, 0
        if pid == 0:
            return
        if os.WIFSIGNALED(code):
            self.status = (stream.SIGNALLED, os.WTERMSIG(code))
        else:
            self.status = (stream.EXITED, os.waitstatus_to_exitcode(code))
        if self.master is not None:
            # Whatever the program left is in the PTY already (a batch at most): read it now,
            # past a paused client's window, so that a plain exit ends at EIO at once.
            self.read_pty(drain=True)
        if self.master is None:
            self.finish()
        else:
            self.exit_deadline = time.monotonic() + EXIT_GRACE

    def finish(self) -> None:
        """Report the exit once: every byte the program wrote is in the ring by now."""
        if self.finished or self.status is None:
            return
        if self.master is not None:
            self.read_pty(drain=True)
            if self.master is not None:  # something else still holds the PTY: hang it up
                self._unwatch(self.master)
                os.close(self.master)
                self.master = None
        self.finished = True
        self.exit_deadline = self.kill_deadline = None
        self.ended_at = time.time()
        self.feed_screen(self.ring.end)
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        write_meta(self)
        kind, value = self.status
        event = {
            "event": "exit",
            "kind": kind,
            "value": value,
            "offset": self.ring.end,
            "ended": self.ended_at,
        }
        for conn in list(self.conns.values()):
            if conn.watching:
                self.send_control(conn, stream.EVENT, event)
            if conn.attached:
                self.pump(conn)
        holder_control.wake_waiters(self)

    def kill(self, grace: float) -> None:
        if self.status is not None:
            return
        self._signal_all(signal.SIGHUP)
        self._signal_all(signal.SIGCONT)
        self.kill_deadline = time.monotonic() + grace

    def _signal_all(self, signum: int) -> None:
        groups = {self.child.pid}
        if self.master is not None:
            groups.add(foreground_group(self.master, self.child.pid))
        for group in groups:
            signal_group(group, signum)

    def send_signal(self, name: str) -> None:
        signum = getattr(signal, f"SIG{name}")
        target = (
            self.child.pid if self.master is None else foreground_group(self.master, self.child.pid)
        )
        signal_group(target, signum)

    # -- size and screen ---------------------------------------------------------------------

    def request_size(self, cols: int, rows: int) -> None:
        size = self.debouncer.request(cols, rows, time.monotonic())
        if size is not None:
            self.apply_size(*size)

    def apply_size(self, cols: int, rows: int) -> None:
        if (cols, rows) == (self.cols, self.rows):
            return
        self.cols, self.rows = cols, rows
        if self.master is not None:
            set_size(self.master, cols, rows)
        self.markers.append((self.ring.end, cols, rows))
        if self.recorder is not None:
            self.recorder.resize(cols, rows)
        resized = stream.encode(stream.Resized(cols, rows))
        for conn in list(self.conns.values()):
            if conn.attached:
                self.send_frame(conn, resized)
            if conn.watching:
                self.send_control(
                    conn, stream.EVENT, {"event": "resized", "cols": cols, "rows": rows}
                )

    def feed_screen(self, upto: int) -> None:
        """Bring the emulator up to ``upto``, applying resizes where they happened."""
        while True:
            while self.markers and self.markers[0][0] <= self.fed:
                _, cols, rows = self.markers.pop(0)
                self.screen.resize(cols, rows)
            if self.fed >= upto:
                return
            stop = upto if not self.markers else min(upto, self.markers[0][0])
            data = self.ring.read(self.fed, stop - self.fed)
            self.screen.feed(data)
            self.fed += len(data)

    @property
    def screen_offset(self) -> int:
        """The screen shows the output before this offset: the bytes fed, less an escape
        sequence or UTF-8 character cut at the end of the feed (held in the emulator)."""
        return self.fed - self.screen.unapplied

    def snapshot(self) -> tuple[int, bytes]:
        """A SNAPSHOT frame of the whole output so far, and the offset it resumes at: the
        client gets the bytes the screen has not applied yet as OUTPUT after it."""
        self.feed_screen(self.ring.end)
        offset = self.screen_offset
        frame = stream.Snapshot(offset, self.cols, self.rows, self.screen.snapshot())
        return offset, stream.encode(frame)

    # -- connections ----------------------------------------------------------------------------

    def _accept(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        conn = Conn(sock)
        self.conns[conn.fd] = conn
        self._watch(conn.fd, POLL_IN)

    def _receive(self, conn: Conn) -> None:
        # Into one buffer the holder keeps: recv(256 KiB) mapped and unmapped a fresh
        # 256 KiB object per frame (three syscalls more per keystroke).
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
        self._update_conn(conn)

    def _frame(self, conn: Conn, raw: bytes) -> None:
        frame = stream.decode(raw)
        match frame:
            case stream.Input(data):
                if self.status is not None:
                    self.send_error(conn, 409, "the session has exited; input is closed")
                else:
                    self.write_input(data)
            case stream.Ack(offset):
                if not conn.attached:
                    raise ProtocolError("ACK before ATTACH")
                self.flow.ack(conn.fd, offset, self.ring.end, time.monotonic())
                self.pump(conn)
            case stream.Resize(cols, rows):
                self.request_size(cols, rows)
            case stream.Signal(name):
                if self.status is not None:
                    self.send_error(conn, 409, "the session has exited; nothing to signal")
                else:
                    self.send_signal(name)
            case stream.Attach():
                self.attach(conn, frame)
            case stream.Control(stream.CONTROL, body):
                holder_control.handle(self, conn, body)
            case _:
                raise ProtocolError(f"a {type(frame).__name__.upper()} frame is not a request")

    def attach(self, conn: Conn, request: stream.Attach) -> None:
        if conn.attached:
            raise ProtocolError("this connection is already attached")
        if request.cols:
            self.apply_size(request.cols, request.rows)
            self.debouncer.applied(time.monotonic())
        plan = plan_attach(request.offset, request.fresh, self.ring.start, self.ring.end)
        conn.attached = True
        self.send_frame(
            conn,
            stream.encode(
                stream.Attached(
                    self.ring.start,
                    self.ring.end,
                    self.cols,
                    self.rows,
                    self.flow.high,
                    self.flow.ack_every,
                )
            ),
        )
        if isinstance(plan, Replay):
            self.flow.attach(conn.fd, plan.offset)
        else:
            offset, frame = self.snapshot()
            self.flow.attach(conn.fd, offset)
            self.send_frame(conn, frame)
        self.pump(conn)

    def pump(self, conn: Conn) -> None:
        """Send ``conn`` what its window allows, straight from the ring."""
        while not conn.out and not conn.closing and conn.fd in self.conns:
            window = self.flow.window(conn.fd)
            if window.sent < self.ring.start:  # fell behind the ring: resync by snapshot
                offset, frame = self.snapshot()
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
            self.finished
            and not conn.exit_sent
            and not conn.out
            and conn.fd in self.conns
            and self.flow.window(conn.fd).sent >= self.ring.end
            and self.status
        ):
            conn.exit_sent = True
            kind, value = self.status
            self.send_frame(conn, stream.encode(stream.Exit(self.ring.end, kind, value)))

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
        self._update_conn(conn)

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
            self._update_conn(conn)

    def _flush(self, conn: Conn) -> None:
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
        self._update_conn(conn)

    def _update_conn(self, conn: Conn) -> None:
        if conn.fd not in self.conns:
            return
        if conn.closing and not conn.out:
            self.close(conn)
            return
        mask = 0 if (conn.closing or len(self.input) > INPUT_HIGH) else POLL_IN
        if conn.out:
            mask |= select.POLLOUT
        self._watch(conn.fd, mask or select.POLLHUP)

    def close(self, conn: Conn) -> None:
        conn.closing = True
        if self.conns.pop(conn.fd, None) is None:
            return
        self._unwatch(conn.fd)
        self.flow.detach(conn.fd)
        self.waiters = [w for w in self.waiters if w.conn is not conn]
        conn.sock.close()
        if conn.attached:
            self.fit_ring()  # a fast reader's window (and the ring's room for it) is gone

    def _close_all(self) -> None:
        for conn in list(self.conns.values()):
            self.close(conn)
        self.listener.close()

    # -- poll registrations -------------------------------------------------------------

    def _watch(self, fd: int, mask: int) -> None:
        current = self.registered.get(fd)
        if current == mask:
            return
        if current is None:
            self.poller.register(fd, mask)
        else:
            self.poller.modify(fd, mask)
        self.registered[fd] = mask

    def _unwatch(self, fd: int) -> None:
        if self.registered.pop(fd, None) is not None:
            self.poller.unregister(fd)
