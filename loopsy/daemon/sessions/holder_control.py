"""The holder's CONTROL requests (daemon → holder, JSON), answered with REPLY frames.

==========  =====================================  ==========================================
op          request fields                         reply fields
==========  =====================================  ==========================================
info        –                                      pid, child_pid, cols, rows, start, end,
                                                   clients, exit ({kind, value, offset} | null)
watch       –                                      as info; EVENTs follow (exit, resized)
resize      cols, rows                             – (debounced like RESIZE frames)
signal      name                                   –
input       data (base64)                          –
kill        grace (s)                              – (SIGHUP, then SIGKILL after grace)
read        since, max, wait (s)                   offset, next, gap, exited, data (base64)
screen      –                                      lines, cursor, alternate, cols, rows, offset
shutdown    –                                      – (kills the program if alive; then exits)
==========  =====================================  ==========================================

Every reply carries the request's ``id`` and ``ok``; failures carry ``status`` (an HTTP
status) and ``error``.
"""

from __future__ import annotations

import binascii
import os
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopsy.protocol import stream
from loopsy.protocol.errors import ProtocolError

if TYPE_CHECKING:
    from loopsy.daemon.sessions.holder import Holder
    from loopsy.daemon.sessions.holder_clients import Conn

MAX_READ = 1 << 20
MAX_WAIT = 60.0


class ControlFailed(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ReadWaiter:
    conn: Conn
    id: Any
    since: int
    limit: int
    deadline: float


def handle(holder: Holder, conn: Conn, body: dict[str, Any]) -> None:
    request_id = body.get("id")
    op = body.get("op")
    handler = _OPS.get(op) if isinstance(op, str) else None
    try:
        if handler is None:
            raise ControlFailed(400, f"unknown control op {op!r}")
        result = handler(holder, conn, body)
    except ControlFailed as exc:
        reply(holder, conn, request_id, {"ok": False, "status": exc.status, "error": exc.message})
        return
    except (ProtocolError, KeyError, TypeError, ValueError) as exc:
        reply(holder, conn, request_id, {"ok": False, "status": 400, "error": str(exc)})
        return
    if result is not None:
        reply(holder, conn, request_id, {"ok": True, **result})


def reply(holder: Holder, conn: Conn, request_id: Any, body: dict[str, Any]) -> None:
    holder.clients.send_control(conn, stream.REPLY, {"id": request_id, **body})


def info(holder: Holder) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "child_pid": holder.child.pid,
        "cols": holder.cols,
        "rows": holder.rows,
        "start": holder.ring.start,
        "end": holder.ring.end,
        "clients": len(holder.flow),
        "exit": holder.exit_record() if holder.finished else None,
    }


def _info(holder: Holder, conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
    return info(holder)


def _watch(holder: Holder, conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
    conn.watching = True
    return info(holder)


def _int(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ControlFailed(400, f"{key} must be an integer in {low}..{high}")
    return value


def _number(body: dict[str, Any], key: str, default: float, high: float) -> float:
    value = body.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= high:
        raise ControlFailed(400, f"{key} must be a number in 0..{high}")
    return float(value)


def _resize(holder: Holder, conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
    cols = _int(body, "cols", 1, stream.MAX_COLS)
    rows = _int(body, "rows", 1, stream.MAX_ROWS)
    holder.request_size(cols, rows)
    return {}


def _exited_check(holder: Holder, what: str) -> None:
    if holder.status is not None:
        raise ControlFailed(409, f"the session has exited; {what}")


def _signal(holder: Holder, conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("name")
    if not isinstance(name, str) or name not in stream.SIGNAL_NAMES:
        raise ControlFailed(400, f"unknown signal {name!r}")
    _exited_check(holder, "nothing to signal")
    holder.send_signal(name)
    return {}


def _input(holder: Holder, conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
    _exited_check(holder, "input is closed")
    try:
        data = binascii.a2b_base64(body["data"])
    except (binascii.Error, TypeError, KeyError):
        raise ControlFailed(400, "data must be base64") from None
    holder.write_input(data)
    return {}


def _kill(holder: Holder, conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
    holder.kill(_number(body, "grace", 3.0, 60.0))
    return {}


def _screen(holder: Holder, conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
    output = holder.output
    output.feed(output.ring.end)
    screen = output.screen
    return {
        "lines": screen.display(),
        "cursor": list(screen.cursor),
        "alternate": screen.alternate,
        "cols": holder.cols,
        "rows": holder.rows,
        "offset": output.screen_offset,
    }


def _read(holder: Holder, conn: Conn, body: dict[str, Any]) -> dict[str, Any] | None:
    since = _int(body, "since", 0, 1 << 62)
    limit = _int(body, "max", 1, MAX_READ)
    wait = _number(body, "wait", 0.0, MAX_WAIT)
    if since > holder.ring.end:
        raise ControlFailed(
            400, f"offset {since} is beyond the end of the output ({holder.ring.end})"
        )
    if since < holder.ring.end or holder.finished or wait == 0:
        return read_result(holder, since, limit)
    holder.waiters.append(ReadWaiter(conn, body.get("id"), since, limit, time.monotonic() + wait))
    return None


def read_result(holder: Holder, since: int, limit: int) -> dict[str, Any]:
    ring = holder.ring
    start = max(since, ring.start)
    data = ring.read(start, limit)
    return {
        "offset": start,
        "next": start + len(data),
        "gap": start > since,
        "exited": holder.finished and start + len(data) >= ring.end,
        "data": binascii.b2a_base64(data, newline=False).decode("ascii"),
    }


def wake_waiters(holder: Holder) -> None:
    ready = [w for w in holder.waiters if w.since < holder.ring.end or holder.finished]
    if not ready:
        return
    holder.waiters = [w for w in holder.waiters if w not in ready]
    for waiter in ready:
        _answer(holder, waiter)


def expire_waiters(holder: Holder, now: float) -> None:
    due = [w for w in holder.waiters if w.deadline <= now]
    holder.waiters = [w for w in holder.waiters if w.deadline > now]
    for waiter in due:
        _answer(holder, waiter)


def _answer(holder: Holder, waiter: ReadWaiter) -> None:
    result = read_result(holder, waiter.since, waiter.limit)
    reply(holder, waiter.conn, waiter.id, {"ok": True, **result})


def _shutdown(holder: Holder, conn: Conn, body: dict[str, Any]) -> dict[str, Any]:
    if holder.status is None:
        holder.signal_all(signal.SIGKILL)
        os.waitpid(holder.child.pid, 0)
    holder.running = False
    return {}


_OPS = {
    "info": _info,
    "watch": _watch,
    "resize": _resize,
    "signal": _signal,
    "input": _input,
    "kill": _kill,
    "read": _read,
    "screen": _screen,
    "shutdown": _shutdown,
}
