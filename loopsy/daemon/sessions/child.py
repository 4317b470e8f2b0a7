"""Start a program on a new PTY, as the leader of its own session with the PTY as its
controlling terminal, and report exec failures as errors rather than as exit code 127.

Used by the holder process; standard library only.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import struct
import termios
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class SpawnError(Exception):
    """The program could not be started (not found, not executable, bad cwd)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Child:
    pid: int
    master: int  # the PTY master, non-blocking


def set_size(fd: int, cols: int, rows: int) -> None:
    """Set the PTY's window size; the kernel sends SIGWINCH to its foreground group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def spawn(argv: Sequence[str], cwd: str, env: Mapping[str, str], cols: int, rows: int) -> Child:
    """Fork and exec ``argv`` on a fresh PTY of ``cols`` x ``rows``."""
    if not argv:
        raise SpawnError("the command is empty")
    if not os.path.isdir(cwd):
        raise SpawnError(f"working directory {cwd} does not exist", "pass an existing cwd")
    master, slave = os.openpty()
    set_size(slave, cols, rows)
    report_r, report_w = os.pipe()  # close-on-exec: EOF on exec, the errno on failure
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child execs or exits
        try:
            _become_child(master, slave, report_w, argv, cwd, env)
        finally:
            os._exit(127)
    os.close(slave)
    os.close(report_w)
    try:
        report = _read_all(report_r)
    finally:
        os.close(report_r)
    if report:
        os.waitpid(pid, 0)
        os.close(master)
        code, _, text = report.decode("utf-8", "replace").partition(":")
        raise _spawn_error(argv[0], int(code) if code.isdigit() else 0, text)
    os.set_blocking(master, False)
    return Child(pid, master)


def _become_child(
    master: int,
    slave: int,
    report_w: int,
    argv: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
) -> None:  # pragma: no cover - runs in the forked child
    try:
        os.close(master)
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        # Python ignores SIGPIPE and may have handlers; the program gets the defaults.
        for signum in (
            signal.SIGPIPE,
            signal.SIGINT,
            signal.SIGTERM,
            signal.SIGCHLD,
            signal.SIGHUP,
            signal.SIGQUIT,
            signal.SIGTSTP,
            signal.SIGWINCH,
        ):
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.chdir(cwd)
        os.execvpe(argv[0], list(argv), dict(env))  # noqa: S606 (running it is the point)
    except OSError as exc:
        os.write(report_w, f"{exc.errno or 0}:{exc.strerror or exc}".encode())
    except BaseException as exc:
        os.write(report_w, f"0:{exc}".encode())


def _read_all(fd: int) -> bytes:
    parts: list[bytes] = []
    while True:
        try:
            data = os.read(fd, 4096)
        except InterruptedError:
            continue
        if not data:
            return b"".join(parts)
        parts.append(data)


def _spawn_error(program: str, code: int, text: str) -> SpawnError:
    if code == errno.ENOENT:
        return SpawnError(f"command not found: {program}", "check the name, or give the full path")
    if code == errno.EACCES:
        return SpawnError(f"permission denied: {program}", "is the file executable?")
    return SpawnError(f"cannot start {program}: {text or 'unknown error'}")


def foreground_group(master: int, pid: int) -> int:
    """The PTY's foreground process group (what Ctrl-C would reach), else ``pid``'s group."""
    try:
        group = os.tcgetpgrp(master)
    except OSError:
        return pid
    return group if group > 0 else pid


def signal_group(pid: int, signum: int) -> bool:
    """Send ``signum`` to process group ``pid``; False if it is gone."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return False
    except PermissionError:
        return False
    return True
