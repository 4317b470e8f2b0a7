"""``logs/audit.jsonl``: one line per request — who, what, result — rotated by size.

A record holds the time, caller, transport, method, path (never the query string), status
and duration, plus ``event`` records that services add for actions worth a line of their
own (an approval granted, a phone revoked). Never a secret, never a body.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopsy.daemon.auth import CALLER_KEY, TRANSPORT_KEY, Caller

DEFAULT_MAX_BYTES = 10 << 20
DEFAULT_KEEP = 5


class AuditLog:
    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._open()

    def _open(self) -> Any:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8", buffering=1)

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``listener`` with every record as it is written; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def write(self, record: dict[str, Any]) -> None:
        record = {"ts": round(self.clock(), 3), **record}
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
        with self._lock:
            self._file.write(line)
            if self._file.tell() >= self.max_bytes:
                self._rotate()
        for listener in list(self._listeners):
            listener(record)

    def event(self, caller: Caller | str, action: str, **fields: Any) -> None:
        """A record for an action worth its own line (not a request)."""
        self.write({"caller": str(caller), "event": action, **fields})

    def _rotate(self) -> None:
        self._file.close()
        for index in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._file = self._open()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def tail(self, count: int) -> list[dict[str, Any]]:
        """The last ``count`` records, oldest first, across rotated files."""
        found: deque[dict[str, Any]] = deque(maxlen=count)
        for record in self._records():
            found.append(record)
        return list(found)

    def _records(self) -> Iterator[dict[str, Any]]:
        paths = [self.path.with_name(f"{self.path.name}.{i}") for i in range(self.keep, 0, -1)]
        for path in [*paths, self.path]:
            try:
                with path.open(encoding="utf-8") as f:
                    for line in f:
                        try:
                            record = json.loads(line)
                        except json.JSONDecodeError:
                            continue  # a torn last line after a crash
                        if isinstance(record, dict):
                            yield record
            except FileNotFoundError:
                continue


class AuditMiddleware:
    """Writes one record per HTTP request and per WebSocket connection, after it ends."""

    def __init__(self, app: ASGIApp, audit: AuditLog, clock: Callable[[], float]) -> None:
        self.app = app
        self.audit = audit
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        started = self.clock()
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "websocket.accept":
                status = 101
            elif message["type"] == "websocket.close" and status == 0:
                status = 403
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except BaseException:
            status = status or 500
            raise
        finally:
            caller = scope.get(CALLER_KEY)
            self.audit.write(
                {
                    "caller": str(caller) if isinstance(caller, Caller) else "anonymous",
                    "transport": scope.get(TRANSPORT_KEY, "tcp"),
                    "method": scope.get("method", "WS") if scope["type"] == "http" else "WS",
                    "path": scope.get("path", ""),
                    "status": scope.get("loopsy.refused", status),
                    "ms": round((self.clock() - started) * 1000, 2),
                }
            )
