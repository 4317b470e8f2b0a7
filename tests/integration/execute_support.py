"""Helpers for the execute tests: a FIFO a command signals through, waiting for a job to
end (through the audit log's own event), and a look at process groups."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from loopsy.daemon.execute.runner import group_alive
from loopsy.daemon.services import Services

WAIT = 20.0  # generous bound on every wait; never reached unless something is broken


class Fifo:
    """A named pipe: a command writes to it (`echo ready > $FIFO`) and the test, blocked
    reading, wakes exactly then. No sleeps, no polling."""

    def __init__(self, directory: Path, name: str = "ready") -> None:
        self.path = directory / name
        os.mkfifo(self.path)

    async def read(self) -> str:
        def read() -> str:
            with open(self.path, encoding="utf-8") as f:
                return f.read()

        with anyio.fail_after(WAIT):
            return await anyio.to_thread.run_sync(read, abandon_on_cancel=True)

    async def write(self, text: str) -> None:
        def write() -> None:
            with open(self.path, "w", encoding="utf-8") as f:
                f.write(text)

        with anyio.fail_after(WAIT):
            await anyio.to_thread.run_sync(write, abandon_on_cancel=True)


class JobEnds:
    """Waits for the daemon's audit record of a finished command."""

    def __init__(self, daemon: Services) -> None:
        self.records: list[dict[str, Any]] = []
        self._event = anyio.Event()
        self._unsubscribe: Callable[[], None] = daemon.audit.subscribe(self._seen)

    def _seen(self, record: dict[str, Any]) -> None:
        if record.get("event") == "execute":
            self.records.append(record)
            self._event.set()

    async def next(self) -> dict[str, Any]:
        with anyio.fail_after(WAIT):
            while not self.records:
                await self._event.wait()
                self._event = anyio.Event()
        return self.records.pop(0)

    def close(self) -> None:
        self._unsubscribe()


def no_live_process_in_group(pgid: int) -> bool:
    return not group_alive(pgid)


def zombie_children() -> list[int]:
    """Our own children that exited and were never reaped."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] == b"Z" and int(fields[1]) == me:
            found.append(int(entry))
    return found
