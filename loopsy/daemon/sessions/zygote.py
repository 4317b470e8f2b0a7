"""The holder fork server: ``python -m loopsy.daemon.sessions.zygote``.

The daemon starts one, with a socketpair on stdin. It imports everything a holder runs
once, freezes those objects out of the garbage collector's reach, and then forks a holder
per request. The holders share the interpreter's pages with it and with each other
(copy-on-write), which is what keeps an idle session to a few MB of PSS.

Each holder is forked twice (the middle process exits at once) and calls ``setsid``: it
belongs to no process group of the daemon's and outlives both the zygote and the daemon.
The zygote exits when the daemon's end of the socketpair closes.

Requests and replies are CONTROL/REPLY frames with a ``u32`` length prefix:
``{"op": "spawn", "id": N, "spec": {...}}`` → ``{"id": N, "ok": true, "pid", "child_pid"}``
or ``{"id": N, "ok": false, "error", "hint"?, "status"?}``.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
from typing import Any

from loopsy.daemon.sessions import holder_process
from loopsy.daemon.sessions.holder_spec import HolderSpec
from loopsy.protocol import stream


def main() -> int:
    channel = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    splitter = stream.FrameSplitter()
    gc.collect()
    gc.freeze()
    while True:
        try:
            data = channel.recv(1 << 16)
        except InterruptedError:
            continue
        if not data:
            return 0
        for frame in splitter.feed(data):
            decoded = stream.decode(frame)
            body = decoded.body if isinstance(decoded, stream.Control) else {}
            result = _spawn(body, channel)
            answer = stream.Control(stream.REPLY, {"id": body.get("id"), **result})
            channel.sendall(stream.prefixed(stream.encode(answer)))


def _spawn(body: dict[str, Any], channel: socket.socket) -> dict[str, Any]:
    if body.get("op") != "spawn" or not isinstance(body.get("spec"), dict):
        return {"ok": False, "error": "unknown zygote request", "status": 400}
    try:
        spec = HolderSpec.from_json(body["spec"])
    except (TypeError, KeyError, ValueError) as exc:
        return {"ok": False, "error": f"bad holder spec: {exc}", "status": 400}
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the middle process, then the holder
        try:
            os.close(ready_r)
            channel.close()
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            holder_process.start(spec, ready_w)
        finally:
            os._exit(1)
    os.close(ready_w)
    os.waitpid(pid, 0)
    chunks = []
    while chunk := os.read(ready_r, 65536):
        chunks.append(chunk)
    os.close(ready_r)
    try:
        result = json.loads(b"".join(chunks))
    except ValueError:
        result = None
    if not isinstance(result, dict):
        return {"ok": False, "error": "the session holder failed to start; see its holder.log"}
    return result


if __name__ == "__main__":
    sys.exit(main())
