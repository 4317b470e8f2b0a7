"""Start-up of a holder process: private stdio, signals, the socket, the program, then
the loop. Runs in the process the zygote forked; reports "ready" (or why not) as one JSON
object on ``ready_fd`` so a failed ``exec`` is an error for the caller, not a dead session.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import traceback
from pathlib import Path
from typing import Any, NoReturn

from loopsy.daemon.sessions.child import SpawnError, spawn
from loopsy.daemon.sessions.holder import Holder
from loopsy.daemon.sessions.holder_spec import LOG_NAME, HolderSpec, write_meta


def start(spec: HolderSpec, ready_fd: int) -> NoReturn:
    code = 1
    try:
        code = _run(spec, ready_fd)
    except BaseException:
        traceback.print_exc()
        _report(ready_fd, {"ok": False, "error": "the session holder crashed; see holder.log"})
    finally:
        os._exit(code)


def _run(spec: HolderSpec, ready_fd: int) -> int:
    os.umask(0o077)
    _private_stdio(spec.directory / LOG_NAME)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, _ignore)  # a handler (not SIG_IGN) so children are kept
    try:
        listener = _listen(spec.socket_path)
    except OSError as exc:
        _report(ready_fd, {"ok": False, "error": f"cannot bind the session socket: {exc}"})
        return 1
    try:
        child = spawn(spec.argv, spec.cwd, spec.env, spec.cols, spec.rows)
    except SpawnError as exc:
        listener.close()
        spec.socket_path.unlink(missing_ok=True)
        _report(ready_fd, {"ok": False, "error": exc.message, "hint": exc.hint, "status": 422})
        return 1
    holder = Holder(spec, listener, child, wake_r)
    write_meta(holder)
    _report(ready_fd, {"ok": True, "pid": os.getpid(), "child_pid": child.pid})
    try:
        holder.run()
    finally:
        spec.socket_path.unlink(missing_ok=True)
    return 0


def _ignore(signum: int, frame: Any) -> None:
    pass


def _private_stdio(log: Path) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(err, 2)
    os.close(null)
    os.close(err)


def _listen(path: Path) -> socket.socket:
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o600)
    sock.listen(16)
    sock.setblocking(False)
    return sock


def _report(fd: int, message: dict[str, Any]) -> None:
    if fd < 0:
        return
    try:
        os.write(fd, json.dumps(message).encode())
        os.close(fd)
    except OSError:
        pass
