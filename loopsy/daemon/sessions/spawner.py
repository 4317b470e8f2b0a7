"""The daemon's handle on the holder fork server (:mod:`loopsy.daemon.sessions.zygote`).

Started on first use, restarted if it dies, stopped with the daemon (closing our end of
the socketpair ends it). The holders it forked are not its children any more and live on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio

from loopsy.daemon.sessions.holder_spec import HolderSpec
from loopsy.protocol import stream
from loopsy.protocol.errors import ApiError, InternalError, ValidationFailed

SPAWN_TIMEOUT = 20.0


class Spawner:
    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = anyio.Lock()
        self._ids = itertools.count(1)

    async def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self._process = _launch(theirs, self.log_path)
        finally:
            theirs.close()
        self._reader, self._writer = await asyncio.open_unix_connection(sock=ours)

    async def spawn(self, spec: HolderSpec) -> dict[str, Any]:
        """Fork a holder for ``spec``; returns ``{"pid", "child_pid"}`` once it serves."""
        async with self._lock:
            for attempt in (1, 2):
                if self._writer is None or self._writer.is_closing():
                    await self._start()
                try:
                    return await self._request(spec)
                except (ConnectionError, asyncio.IncompleteReadError):
                    await self.aclose()  # the zygote died: one fresh start, then give up
                    if attempt == 2:
                        raise InternalError(
                            "the session fork server stopped; see logs/zygote.log"
                        ) from None
        raise AssertionError("unreachable")

    async def _request(self, spec: HolderSpec) -> dict[str, Any]:
        assert self._reader is not None and self._writer is not None
        request_id = next(self._ids)
        body = {"op": "spawn", "id": request_id, "spec": spec.to_json()}
        self._writer.write(stream.prefixed(stream.encode(stream.Control(stream.CONTROL, body))))
        await self._writer.drain()
        with anyio.fail_after(SPAWN_TIMEOUT):
            size = int.from_bytes(await self._reader.readexactly(4), "big")
            frame = await self._reader.readexactly(size)
        reply = stream.decode(frame)
        assert isinstance(reply, stream.Control)
        result = reply.body
        if not result.get("ok"):
            status = result.get("status", 500)
            error_class: type[ApiError] = ValidationFailed if status == 422 else InternalError
            raise error_class(
                str(result.get("error", "the session did not start")), hint=result.get("hint")
            )
        return result

    async def aclose(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()
        process, self._process = self._process, None
        if process is not None:
            try:
                await anyio.to_thread.run_sync(process.wait, 5.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _launch(channel: socket.socket, log_path: Path) -> subprocess.Popen[bytes]:
    """Start the zygote with ``channel`` as its stdin (fast: no waiting on it)."""
    # 0600 like every other file under LOOPSY_HOME (doctor checks); open() would use the umask.
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "loopsy.daemon.sessions.zygote"],
            stdin=channel.fileno(),
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=os.environ.copy(),
        )
