"""One command as a process: started in its own session (so its whole process group can
be signalled), stdin from the request or /dev/null, stdout and stderr read as they come.

Memory is bounded whatever the command prints: each stream keeps at most ``max_output``
bytes for the result and the rest is read and dropped (the pipe never fills, so the
command never stalls on a full pipe), and a streaming sink applies backpressure one chunk
at a time. When the command ends — exit, timeout or cancel — the group gets SIGTERM, then
SIGKILL after a grace period, and the process is always reaped (no zombies).

Spawning is a vfork (``child.py``); waiting and reading go through the event loop, so a
command never blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from loopsy.daemon.execute.child import Child
from loopsy.protocol.errors import ApiError, BadRequest, Forbidden, NotFound
from loopsy.protocol.execute import STDERR, STDOUT

CHUNK = 64 * 1024
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
DRAIN_GRACE = 1.0  # how long to wait for EOF once every process we know of is gone
FLUSH_LIMIT = 60.0  # beyond the timeout, how long a slow client may take to read the rest
POLL = 0.02

# Receives each chunk of output as it is read: (STDOUT or STDERR, bytes).
Sink = Callable[[int, bytes], Awaitable[None]]


@dataclass(frozen=True)
class RunSpec:
    argv: list[str]
    cwd: str
    env: dict[str, str]
    timeout: float
    max_output: int
    stdin: bytes | None = None


@dataclass
class Capture:
    """The first ``limit`` bytes of a stream, and whether more came."""

    limit: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        if len(chunk) > room:
            self.truncated = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass
class Outcome:
    exit_code: int | None
    signal: int | None
    duration: float
    timed_out: bool
    cancelled: bool
    stdout: Capture
    stderr: Capture


class Run:
    """A started process. :meth:`wait` supervises it to the end; :meth:`cancel` ends it."""

    def __init__(
        self,
        spec: RunSpec,
        process: Child,
        pipes: dict[int, tuple[asyncio.StreamReader, asyncio.BaseTransport]],
        stdin_fd: int | None,
        started: float,
    ) -> None:
        self.spec = spec
        self.process = process
        self.pid = process.pid
        self.started = started
        self.cancel_requested = False
        self._pipes = pipes
        self._stdin_fd = stdin_fd
        self._scope: anyio.CancelScope | None = None
        self._reading_since: dict[int, float | None] = {STDOUT: None, STDERR: None}

    @classmethod
    async def start(cls, spec: RunSpec) -> Run:
        """Spawn the process; raise a 4xx :class:`ApiError` if it cannot start."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if spec.stdin is not None else (None, None)
        try:
            child = Child.spawn(
                spec.argv,
                stdin=in_r if in_r is not None else subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                cwd=spec.cwd,
                env=spec.env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            for fd in (out_r, err_r, in_w):
                if fd is not None:
                    os.close(fd)
            raise spawn_error(spec, exc) from None
        finally:
            for fd in (out_w, err_w, in_r):
                if fd is not None:
                    os.close(fd)
        pipes: dict[int, tuple[asyncio.StreamReader, asyncio.BaseTransport]] = {}
        # Our own read transports, so a pipe held open by a process that escaped the group
        # can be closed once the command is over.
        for stream, fd in ((STDOUT, out_r), (STDERR, err_r)):
            reader = asyncio.StreamReader(limit=2 * CHUNK)
            transport, _ = await loop.connect_read_pipe(
                lambda r=reader: asyncio.StreamReaderProtocol(r),  # type: ignore[misc]
                os.fdopen(fd, "rb", buffering=0),
            )
            pipes[stream] = (reader, transport)
        return cls(spec, child, pipes, in_w, started)

    def cancel(self) -> None:
        self.cancel_requested = True
        if self._scope is not None:
            self._scope.cancel()

    async def wait(self, sink: Sink | None = None) -> Outcome:
        captures = {STDOUT: Capture(self.spec.max_output), STDERR: Capture(self.spec.max_output)}
        killed = False
        self._scope = anyio.CancelScope(deadline=anyio.current_time() + self.spec.timeout)
        if self.cancel_requested:
            self._scope.cancel()
        try:
            # However slow the sink, the whole run is bounded.
            with anyio.move_on_after(self.spec.timeout + 2 * KILL_GRACE + FLUSH_LIMIT):
                async with anyio.create_task_group() as tg:
                    pumps_done = anyio.Event()
                    remaining = [len(self._pipes)]

                    async def pump(stream: int) -> None:
                        try:
                            await self._pump(stream, captures[stream], sink)
                        finally:
                            remaining[0] -= 1
                            if not remaining[0]:
                                pumps_done.set()

                    for stream in self._pipes:
                        tg.start_soon(pump, stream)
                    if self.spec.stdin is not None:
                        tg.start_soon(self._feed, self.spec.stdin)
                    with self._scope:
                        await self.process.wait()
                    killed = self.process.returncode is None
                    with anyio.CancelScope(shield=True):
                        await self._end_group()
                    await self._drain(pumps_done)
                    tg.cancel_scope.cancel()  # the stdin feeder, if the command never read it
        finally:
            with anyio.CancelScope(shield=True):
                # Cancelled from outside (client gone, daemon stopping): still kill and reap.
                if self.process.returncode is None:
                    killed = True
                    await self._end_group()
            for _, transport in self._pipes.values():
                transport.close()
            if self._stdin_fd is not None:
                os.close(self._stdin_fd)
                self._stdin_fd = None
        code = self.process.returncode
        assert code is not None
        return Outcome(
            exit_code=code if code >= 0 else None,
            signal=-code if code < 0 else None,
            duration=time.monotonic() - self.started,
            timed_out=killed and not self.cancel_requested,
            cancelled=killed and self.cancel_requested,
            stdout=captures[STDOUT],
            stderr=captures[STDERR],
        )

    async def _pump(self, stream: int, capture: Capture, sink: Sink | None) -> None:
        reader, _ = self._pipes[stream]
        while True:
            self._reading_since[stream] = anyio.current_time()
            chunk = await reader.read(CHUNK)
            self._reading_since[stream] = None
            if not chunk:
                return
            capture.add(chunk)
            if sink is not None:
                await sink(stream, chunk)

    async def _drain(self, pumps_done: anyio.Event) -> None:
        """Let the pumps read to EOF. Once every process of ours is gone, a read that
        waits longer than DRAIN_GRACE means a process outside the group (it called
        setsid) holds the pipe: close our end. A pump busy in the sink is not waiting on
        the pipe, so a slow client loses nothing."""
        while not pumps_done.is_set():
            with anyio.move_on_after(DRAIN_GRACE / 4):
                await pumps_done.wait()
            now = anyio.current_time()
            for stream, since in self._reading_since.items():
                if since is not None and now - since >= DRAIN_GRACE:
                    self._pipes[stream][1].close()

    async def _feed(self, data: bytes) -> None:
        fd = self._stdin_fd
        assert fd is not None
        try:
            os.set_blocking(fd, False)
            view = memoryview(data)
            while view:
                await anyio.wait_writable(fd)
                try:
                    view = view[os.write(fd, view[:CHUNK]) :]
                except BlockingIOError:
                    continue
        except (BrokenPipeError, ConnectionResetError):
            pass  # the command exited, or closed its stdin, without reading it all
        finally:
            os.close(fd)
            self._stdin_fd = None

    async def _end_group(self) -> None:
        """SIGTERM the whole group; give the leader (and anything it left behind) the grace
        period to exit; SIGKILL what remains; reap the leader."""
        self._signal_group(signal.SIGTERM)
        with anyio.move_on_after(KILL_GRACE):
            await self.process.wait()
            # Leftovers are not our children (we cannot wait for them): poll, bounded.
            while self._group_alive():  # noqa: ASYNC110
                await anyio.sleep(POLL)
        self._signal_group(signal.SIGKILL)
        await self.process.wait()

    def _signal_group(self, signum: int) -> None:
        # The group id is the leader's pid (start_new_session). It stays reserved while any
        # member lives, so this cannot reach an unrelated group unless every member is gone
        # and the pid space has wrapped around in between: ESRCH is then the usual answer.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def _group_alive(self) -> bool:
        return group_alive(self.pid)


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process remains in group ``pgid``. Orphans in the group
    are reparented to init, which may take its time to reap them; a zombie is finished, so
    on Linux /proc tells them apart. Elsewhere, ``killpg(pgid, 0)`` (zombies count)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False  # the usual answer, without reading /proc
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def spawn_error(spec: RunSpec, exc: OSError) -> ApiError:
    program = spec.argv[0]
    if exc.errno == errno.ENOENT:
        return NotFound(f"cannot run {program!r}: no such file", hint="check the program name")
    if exc.errno == errno.EACCES:
        return Forbidden(f"cannot run {program!r}: permission denied")
    if exc.errno == errno.ENOEXEC:
        return BadRequest(f"cannot run {program!r}: not an executable format")
    return BadRequest(f"cannot run {program!r}: {exc.strerror or exc}")
