"""100 MB of output through a real daemon to three clients at once: one that never reads
(a frozen phone tab), one that reads and acks slowly, one that keeps up. The one that
keeps up loses nothing; daemon and holder stay within their memory bounds throughout."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.client.attach import Attachment
from loopsy.protocol import stream
from tests.conftest import Cli
from tests.helpers.sessions import gated, payload, pss_kb, release, rss_kb

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# What 100 MB may add, at most: per client the daemon buffers up to 1 MiB of frames from
# the holder and a WebSocket write buffer; the holder a ring of 1 MiB and one frame per
# client. Without flow control both would grow by the whole 100 MB.
DAEMON_GROWTH_KB = 32 * 1024
HOLDER_GROWTH_KB = 16 * 1024


class Memory:
    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.base = {name: rss_kb(pid) for name, pid in pids.items()}
        self.base_pss = {name: pss_kb(pid) for name, pid in pids.items()}
        self.peak = dict(self.base)
        self.peak_pss = dict(self.base_pss)

    def sample(self) -> None:
        for name, pid in self.pids.items():
            self.peak[name] = max(self.peak[name], rss_kb(pid))
            self.peak_pss[name] = max(self.peak_pss[name], pss_kb(pid))

    def growth(self, name: str) -> tuple[int, int]:
        return (
            self.peak[name] - self.base[name],
            self.peak_pss[name] - self.base_pss[name],
        )


async def slow_reader(s: Attachment) -> None:
    """Reads a frame, then lets 10 ms pass before the next (ACKing what it rendered)."""
    for _ in range(1_000_000):
        if await s.recv() is None:
            return
        await anyio.sleep(0.01)


async def scenario(cli: Cli, tmp_path: Path) -> tuple[Memory, str, int]:
    source = tmp_path / "payload"
    data = payload(100 << 20, seed=4)
    source.write_bytes(data)
    fifo = tmp_path / "gate"
    async with LoopsyClient.local(cli.home) as client:
        info = await client.sessions.create(
            argv=gated(f"cat '{source}'; exec sleep 60", fifo), name="big"
        )
        assert info.holder_pid is not None
        daemon_pid = int(cli.home.pid_file.read_text().split()[0])
        frozen = client.sessions.attach("big", offset=0, auto_ack=False)
        slow = client.sessions.attach("big", offset=0)
        fast = client.sessions.attach("big", offset=0)
        async with frozen, slow, fast:
            for s in (frozen, slow, fast):
                assert isinstance(await s.recv(), stream.Attached)
            memory = Memory({"daemon": daemon_pid, "holder": info.holder_pid})
            await anyio.to_thread.run_sync(release, fifo)
            expected_size = len(data) + data.count(b"\n")
            digest = hashlib.sha256()
            received = 0
            async with anyio.create_task_group() as tg:
                tg.start_soon(slow_reader, slow)
                next_sample = 0
                for _ in range(expected_size // 64 + 10_000):
                    frame = await fast.recv()
                    assert not isinstance(frame, stream.Snapshot), "the fast client lost bytes"
                    assert isinstance(frame, stream.Output), frame
                    assert frame.offset == received
                    digest.update(frame.data)
                    received += len(frame.data)
                    if received >= next_sample:
                        memory.sample()
                        next_sample += 1 << 20
                    if received >= expected_size:
                        break
                tg.cancel_scope.cancel()
            memory.sample()
        await client.sessions.kill("big", grace=0.5)
    crlf = hashlib.sha256(data.replace(b"\n", b"\r\n")).hexdigest()
    assert digest.hexdigest() == crlf
    return memory, crlf, received


def test_slow_and_frozen_clients_cost_bounded_memory_and_a_fast_one_loses_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    cli("start", "--port", "0")
    memory, _, received = asyncio.run(scenario(cli, tmp_path))
    assert received > 100e6
    daemon_rss, daemon_pss = memory.growth("daemon")
    holder_rss, holder_pss = memory.growth("holder")
    assert daemon_rss < DAEMON_GROWTH_KB and daemon_pss < DAEMON_GROWTH_KB, memory.growth
    assert holder_rss < HOLDER_GROWTH_KB and holder_pss < HOLDER_GROWTH_KB, memory.growth
