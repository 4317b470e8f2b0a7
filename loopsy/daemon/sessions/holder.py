"""The session holder: one small process per session that owns the PTY, so the session
outlives the daemon (restart, upgrade, crash).

It owns the PTY master and the program, and the session's output (:mod:`.holder_output`:
the bounded ring of recent output, the headless screen emulator, the optional asciinema
recording), and serves the daemon over the unix socket ``$LOOPSY_HOME/sessions/<id>/h.sock``
(0600 in a 0700 folder). The connections, their frames and the flow-controlled output are
:mod:`.holder_clients`; the CONTROL requests (info, resize, read, screen, kill, shutdown,
...) are :mod:`.holder_control`. This module is the loop, the PTY and the program's exit.

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
from loopsy.daemon.sessions.holder_clients import POLL_ERR, POLL_IN, Clients
from loopsy.daemon.sessions.holder_output import IDLE_FEED, READ_BATCH, Output
from loopsy.daemon.sessions.holder_spec import HolderSpec, write_meta
from loopsy.protocol import stream
from loopsy.protocol.flow import FlowControl, ResizeDebouncer

MAX_WINDOW = 2 << 20  # a fast reader's window grows up to this (see loopsy.protocol.flow)
SHORT_READ = 1024  # a PTY read this short drained the PTY (streaming reads are ~4 KiB)
INPUT_HIGH = 64 * 1024  # stop reading clients' input while this much awaits the PTY
EXIT_GRACE = 2.0  # after the program exits, wait this long for the PTY to drain


class Holder:
    def __init__(self, spec: HolderSpec, listener: socket.socket, child: Child, wakeup: int):
        self.spec = spec
        self.listener = listener
        self.child = child
        self.master: int | None = child.master
        self.wakeup = wakeup
        self.cols, self.rows = spec.cols, spec.rows
        self.output = Output(spec)
        self.ring = self.output.ring  # the hot path's, by its short name
        self.flow: FlowControl[int] = FlowControl(spec.high, spec.low, max_high=MAX_WINDOW)
        self.debouncer = ResizeDebouncer(spec.debounce)
        self.poller = select.poll()
        self.registered: dict[int, int] = {}
        self.clients = Clients(self)
        self.input = bytearray()
        self.status: tuple[int, int] | None = None  # (kind, value) once the program is reaped
        self.exit_deadline: float | None = None
        self.kill_deadline: float | None = None
        self.finished = False  # exit reported
        self.ended_at: float | None = None
        self.running = True
        self.waiters: list[holder_control.ReadWaiter] = []

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        self.watch(self.listener.fileno(), select.POLLIN)
        self.watch(self.wakeup, select.POLLIN)
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
                self.output.idle()
        self._close_all()

    def _dispatch(self, fd: int, mask: int) -> None:
        if fd == self.master:
            if mask & select.POLLOUT:
                self._write_input()
            if mask & (POLL_IN | POLL_ERR):
                self.read_pty()
        elif fd == self.listener.fileno():
            self.clients.accept(self.listener)
        elif fd == self.wakeup:
            self._drain_wakeup()
        else:
            self.clients.ready(fd, mask)

    def _timeout(self) -> int:
        if self.output.fed < self.ring.end:
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
                self.signal_all(signal.SIGKILL)
        if self.waiters:
            holder_control.expire_waiters(self, now)

    def _close_all(self) -> None:
        self.clients.close_all()
        self.listener.close()

    # -- poll registrations -------------------------------------------------------------

    def watch(self, fd: int, mask: int) -> None:
        current = self.registered.get(fd)
        if current == mask:
            return
        if current is None:
            self.poller.register(fd, mask)
        else:
            self.poller.modify(fd, mask)
        self.registered[fd] = mask

    def unwatch(self, fd: int) -> None:
        if self.registered.pop(fd, None) is not None:
            self.poller.unregister(fd)

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
        output = self.output
        output.append(data)
        end = self.ring.end
        self.flow.produced(end)
        self.clients.pump_attached()
        if self.waiters:
            holder_control.wake_waiters(self)
        if not self.fit_ring() and end - output.fed <= IDLE_FEED:
            # A little output (an echo, a prompt): the clients have it already; feed it now
            # rather than in one more loop turn (a poll, maybe a waitpid) for it alone.
            output.feed(end)

    def fit_ring(self) -> bool:
        """Size the ring for the attached clients' windows; True if it dropped bytes."""
        return self.output.fit(self.flow.largest_high())

    def _pty_closed(self) -> None:
        self._close_master()
        if self.status is not None:
            self.finish()

    def _close_master(self) -> None:
        if self.master is not None:
            self.unwatch(self.master)
            os.close(self.master)
            self.master = None

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
            self.watch(self.master, mask)
        else:
            self.unwatch(self.master)

    def write_input(self, data: bytes) -> None:
        self.input += data
        self._write_input()

    def input_full(self) -> bool:
        """So much input awaits the PTY that clients' input is not read for now."""
        return len(self.input) > INPUT_HIGH

    def _write_input(self) -> None:
        was_full = self.input_full()
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
        if was_full and not self.input_full():
            self.clients.update_all()

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
            self._close_master()  # something else still holds the PTY: hang it up
        self.finished = True
        self.exit_deadline = self.kill_deadline = None
        self.ended_at = time.time()
        self.output.close()
        write_meta(self)
        self.clients.exited({"event": "exit", **self.exit_record()})
        holder_control.wake_waiters(self)

    def exit_record(self) -> dict[str, Any]:
        """How the program ended, once reported: ``{kind, value, offset, ended}``."""
        assert self.status is not None
        kind, value = self.status
        return {"kind": kind, "value": value, "offset": self.ring.end, "ended": self.ended_at}

    def kill(self, grace: float) -> None:
        if self.status is not None:
            return
        self.signal_all(signal.SIGHUP)
        self.signal_all(signal.SIGCONT)
        self.kill_deadline = time.monotonic() + grace

    def signal_all(self, signum: int) -> None:
        """The program's process group and the terminal's foreground group."""
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

    # -- size ------------------------------------------------------------------------------

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
        self.output.resized(cols, rows)
        self.clients.resized(cols, rows)
