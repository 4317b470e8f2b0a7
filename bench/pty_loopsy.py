"""The "loopsy" transport: a real daemon (``loopsy start`` in a temporary LOOPSY_HOME), a
session created through ``client.sessions``, its output read over the session WebSocket
(the unix socket) with ``client.sessions.attach`` from offset 0.

A session runs from its creation, before any client attaches, and its ring is bounded:
bytes written before the attach may be gone, and the client then gets a SNAPSHOT instead
(correct, but not the payload). The other transports start the command with the
connection, so here the command waits on a FIFO until the client is attached (ATTACHED
received: the holder counts its window from offset 0), and a SNAPSHOT is counted as bytes
lost, never as payload."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.pty_measure import WORKLOAD_NAMES
from bench.pty_transports import COLS, ROWS, free_port
from loopsy.home import LoopsyHome


def gated(command: str, fifo: Path) -> list[str]:
    """argv that runs ``command`` once a line is written to ``fifo`` (see :func:`release`)."""
    return ["sh", "-c", f"read _ < '{fifo}'; rm -f '{fifo}'; {command}"]


async def release(fifo: Path) -> None:
    """Let a :func:`gated` command start (opening a FIFO to write waits for its reader)."""
    import anyio

    def write() -> None:
        with open(fifo, "w") as gate:
            gate.write("go\n")

    with anyio.fail_after(30):
        await anyio.to_thread.run_sync(write)


async def open_gated(client: Any, command: str, directory: Path) -> LoopsyConn:
    """Create a session running ``command``, attach from offset 0, then start it."""
    from loopsy.protocol import stream

    fifo = directory / f"gate-{os.urandom(6).hex()}"
    os.mkfifo(fifo, 0o600)
    info = await client.sessions.create(argv=gated(command, fifo), cols=COLS, rows=ROWS)
    attachment = client.sessions.attach(info.id, offset=0)
    await attachment.__aenter__()
    first = await attachment.recv()
    if not isinstance(first, stream.Attached) or first.start != 0:
        raise RuntimeError(f"attach from offset 0 answered {first!r}")
    await release(fifo)
    return LoopsyConn(client, info.id, attachment)


class LoopsyConn:
    """One attached session; ``read`` yields output bytes, b"" after the exit frame.

    A SNAPSHOT means the client fell behind the ring: the bytes it skips are added to
    ``lost`` (and never returned as payload)."""

    def __init__(self, client: Any, session_id: str, attachment: Any) -> None:
        self.client = client
        self.session_id = session_id
        self.attachment = attachment
        self.expected: int | None = None
        self.lost = 0

    async def read(self) -> bytes:
        from loopsy.protocol import stream

        while True:
            frame = await self.attachment.recv()
            if frame is None or isinstance(frame, stream.Exit):
                return b""
            if isinstance(frame, stream.Output):
                self.expected = frame.offset + len(frame.data)
                return bytes(frame.data)
            if isinstance(frame, stream.Snapshot):
                self.lost += frame.offset - (self.expected or 0)
                self.expected = frame.offset
                print(f"  (loopsy: SNAPSHOT at {frame.offset}: {self.lost} bytes lost so far)",
                      file=sys.stderr)

    async def write(self, data: bytes) -> None:
        await self.attachment.send_input(data)

    async def close(self) -> None:
        await self.attachment.close()
        try:
            await self.client.sessions.kill(self.session_id, grace=0.5)
            await self.client.sessions.remove(self.session_id, force=True)
        except Exception as error:  # the session may be gone already; report, go on
            print(f"  (loopsy cleanup: {error})", file=sys.stderr)


class Loopsy:
    name = "loopsy (session WebSocket, unix socket)"
    kind = "async"

    def __init__(self) -> None:
        self.note = ""
        self.root = Path(tempfile.mkdtemp(prefix="lb-", dir="/tmp"))
        self.home = self.root / "home"
        self.env = dict(os.environ, LOOPSY_HOME=str(self.home))
        self._client: Any = None

    @staticmethod
    def available() -> str | None:
        try:
            import loopsy.client.sessions  # noqa: F401
        except ImportError:
            return "loopsy.client.sessions is not there yet"
        return None

    def _cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "loopsy", *args], env=self.env, check=True,
                       timeout=60, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        self._cli("init")
        self._cli("start", "--port", str(free_port()))

    async def open(self, command: str) -> LoopsyConn:
        from loopsy.client import LoopsyClient

        if self._client is None:
            self._client = LoopsyClient.local(LoopsyHome(self.home))
            await self._client.__aenter__()
        return await open_gated(self._client, command, self.root)

    async def reattach(self, samples: int = 15) -> tuple[float, int]:
        """Median ms from opening the attach (fresh) to the SNAPSHOT received, and the bytes
        sent until then, for a 200x50 session showing an agent's repaint over 1,100 lines of
        coloured log (the issue's "reattach to a 200x50 screen with 1,000 lines")."""
        import time

        from bench.terminal import coloured_log
        from loopsy.client import LoopsyClient
        from loopsy.protocol import stream
        from tests.unit.terminal.streams import agent_repaint

        screen = self.root / "screen.txt"
        screen.write_bytes(coloured_log(1100).replace(b"\r\n", b"\n") + agent_repaint(200, 50, 1))
        if self._client is None:
            self._client = LoopsyClient.local(LoopsyHome(self.home))
            await self._client.__aenter__()
        client = self._client
        info = await client.sessions.create(
            argv=["sh", "-c", f"cat '{screen}'; exec sleep 120"], cols=200, rows=50)
        try:
            expected = screen.stat().st_size + screen.read_bytes().count(b"\n")
            offset = 0
            for _ in range(1000):
                if offset >= expected:
                    break
                offset = (await client.sessions.read(info.id, offset, wait=2.0)).next
            times, sizes = [], []
            for _ in range(samples):
                start = time.perf_counter()
                async with client.sessions.attach(info.id, reconnect=False) as attached:
                    size = 0
                    while True:
                        frame = await attached.recv()
                        assert frame is not None, "the stream ended before the snapshot"
                        size += len(stream.encode(frame))
                        if isinstance(frame, stream.Snapshot):
                            break
                    times.append((time.perf_counter() - start) * 1000)
                    sizes.append(size)
            return sorted(times)[len(times) // 2], max(sizes)
        finally:
            await client.sessions.kill(info.id, grace=0.5)
            await client.sessions.remove(info.id, force=True)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None

    def server_pids(self) -> list[int]:
        """The daemon and every holder of this LOOPSY_HOME (holders outlive the daemon, so
        they are found by their environment, not by parentage)."""
        marker = f"LOOPSY_HOME={self.home}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name not in WORKLOAD_NAMES:
                found.append(int(entry.name))
        return found

    def stop(self) -> None:
        try:
            self._cli("stop")
        except (subprocess.SubprocessError, OSError) as error:
            print(f"  (loopsy stop: {error})", file=sys.stderr)
        # Holders outlive `loopsy stop` by design; these are ours (our LOOPSY_HOME).
        for pid in self.server_pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
