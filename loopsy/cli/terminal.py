"""Attach this terminal to a session: raw mode, the session's output to stdout, keys to
the session, the window size followed (SIGWINCH), and the detach key (Ctrl-] d).

On the way out the terminal is restored whatever happened: its termios modes, and the
modes a program in the session may have switched on (alternate screen, mouse reporting,
bracketed paste, hidden cursor).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio

from loopsy.cli.detach import HELP, DetachKeys
from loopsy.protocol import stream
from loopsy.protocol.errors import LoopsyError

if TYPE_CHECKING:
    from loopsy.client import LoopsyClient

# Leave the alternate screen, show the cursor, reset colours, and turn off mouse
# reporting, bracketed paste and application keypad modes.
RESTORE = (
    b"\x1b[?1049l\x1b[?25h\x1b[0m\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l"
    b"\x1b[?2004l\x1b[?1l\x1b>\r\n"
)
CLEAR = b"\x1b[!p\x1b[H\x1b[2J\x1b[3J"  # soft reset, home, clear screen and scrollback


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[written:]


def _size(fd: int) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 80, 24
    return max(1, min(size.columns, stream.MAX_COLS)), max(1, min(size.lines, stream.MAX_ROWS))


async def attach_terminal(client: LoopsyClient, ref: str, name: str) -> str:
    """Run until detach or exit; returns a line saying which."""
    fd_in, fd_out = sys.stdin.fileno(), sys.stdout.fileno()
    interactive = os.isatty(fd_in)
    cols, rows = _size(fd_out)
    sys.stderr.write(f"[loopsy] attached to {name}. Detach: {HELP}\r\n")
    sys.stderr.flush()
    saved = termios.tcgetattr(fd_in) if interactive else None
    if interactive:
        tty.setraw(fd_in)
    outcome = "detached"
    try:
        async with (
            client.sessions.attach(ref, cols=cols, rows=rows) as session,
            _unwrapped(),
            anyio.create_task_group() as tg,
        ):

            async def keys() -> None:
                nonlocal outcome
                detach = DetachKeys()
                while True:
                    await anyio.wait_readable(fd_in)
                    data = os.read(fd_in, 65536)
                    if not data:
                        return  # stdin closed: stay attached to the output
                    send, leave = detach.feed(data)
                    if send:
                        await session.send_input(send)
                    if leave:
                        outcome = "detached"
                        tg.cancel_scope.cancel()
                        return

            async def winch() -> None:
                with anyio.open_signal_receiver(signal.SIGWINCH) as signals:
                    async for _ in signals:
                        await session.resize(*_size(fd_out))

            tg.start_soon(keys)
            tg.start_soon(winch)
            async for frame in session:
                if isinstance(frame, stream.Snapshot):
                    _write(fd_out, CLEAR + frame.data)
                elif isinstance(frame, stream.Output):
                    _write(fd_out, frame.data)
                elif isinstance(frame, stream.Exit):
                    outcome = _exit_text(frame)
                    break
                elif isinstance(frame, stream.Error):
                    sys.stderr.write(f"\r\n[loopsy] {frame.message}\r\n")
            tg.cancel_scope.cancel()
    finally:
        if saved is not None:
            termios.tcsetattr(fd_in, termios.TCSADRAIN, saved)
        _write(fd_out, RESTORE)
    return outcome


@contextlib.asynccontextmanager
async def _unwrapped() -> AsyncIterator[None]:
    """Raise a task group's one meaningful error itself, not inside an ExceptionGroup, so
    the command prints it as a Loopsy error."""
    try:
        yield
    except BaseExceptionGroup as group:
        errors = group.exceptions
        first = next((e for e in errors if isinstance(e, LoopsyError)), errors[0])
        raise first from None


def _exit_text(frame: stream.Exit) -> str:
    if frame.kind == stream.EXITED:
        return f"the session exited with code {frame.value}"
    if frame.kind == stream.SIGNALLED:
        try:
            name = signal.Signals(frame.value).name
        except ValueError:
            name = str(frame.value)
        return f"the session was killed by {name}"
    return "the session ended (its holder is gone)"
