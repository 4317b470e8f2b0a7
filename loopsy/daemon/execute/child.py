"""A child process started with ``subprocess.Popen`` and awaited without blocking the
event loop.

Why not the event loop's own subprocess support: uvloop (the daemon's loop) spawns with a
plain ``fork()``, whose cost grows with the daemon's memory (20+ ms per command here),
where Popen uses ``vfork()``. The exit is awaited through a pidfd (Linux 5.3+) that the
loop watches; elsewhere a worker thread waits.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from typing import Any

import anyio


class Child:
    @classmethod
    def spawn(cls, argv: list[str], **options: Any) -> Child:
        """Start ``argv`` (``Popen`` options). Called from the event loop on purpose: a
        vfork and exec take a millisecond or two, less than a thread hop would."""
        return cls(subprocess.Popen(argv, **options))

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self._pidfd: int | None = None
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self._pidfd = os.pidfd_open(popen.pid)

    @property
    def returncode(self) -> int | None:
        """As ``Popen.returncode``: None while it runs, ``-N`` if signal N ended it."""
        return self._popen.returncode

    async def wait(self) -> int:
        """Wait for the exit and reap the process (Popen keeps the status)."""
        while self._popen.poll() is None:
            if self._pidfd is not None:
                await anyio.wait_readable(self._pidfd)
            else:
                await anyio.to_thread.run_sync(self._popen.wait, abandon_on_cancel=True)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        return self._popen.returncode
