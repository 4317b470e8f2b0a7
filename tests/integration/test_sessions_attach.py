"""Attach and resume: exact bytes while the ring has them, a snapshot otherwise, never a
tail that starts mid-escape."""

from __future__ import annotations

import pytest

from loopsy.client import LoopsyClient
from loopsy.daemon.services import Services
from loopsy.protocol import stream
from loopsy.terminal.screen import Screen
from tests.integration.sessions_support import QUIET_ENV, SH, collect, read_until

pytestmark = pytest.mark.anyio


async def test_fresh_attach_gets_the_screen_then_live_output(client: LoopsyClient) -> None:
    await client.sessions.create(argv=SH, name="a", env=QUIET_ENV)
    await client.sessions.send_input("a", "echo first-$((1+1))\n")
    await read_until(client, "a", b"first-2")
    async with client.sessions.attach("a") as s:
        attached = await s.recv()
        assert isinstance(attached, stream.Attached)
        snap = await s.recv()
        assert isinstance(snap, stream.Snapshot)
        screen = Screen(snap.cols, snap.rows)
        screen.feed(snap.data)
        assert any("first-2" in line for line in screen.display())
        await s.send_input(b"echo second-$((2+2))\n")
        data = await collect(s, b"second-4")
        assert data.startswith(b"echo") or b"second-4" in data


async def test_resume_gets_exactly_the_missing_bytes(client: LoopsyClient) -> None:
    await client.sessions.create(argv=SH, name="r", env=QUIET_ENV)
    async with client.sessions.attach("r") as s:
        await s.send_input(b"echo one\n")
        await collect(s, b"one\r\n")
        held = s.offset
    assert held is not None
    await client.sessions.send_input("r", "echo two; echo three\n")
    end = await read_until(client, "r", b"three\r\n", since=held)
    everything = (await client.sessions.read("r", 0, max_bytes=1 << 20)).data.encode()
    async with client.sessions.attach("r", offset=held) as s:
        attached = await s.recv()
        assert isinstance(attached, stream.Attached) and attached.end >= end
        got = b""
        while len(got) < end - held:
            frame = await s.recv()
            assert isinstance(frame, stream.Output), frame  # no snapshot: a replay
            assert frame.offset == held + len(got)
            got += frame.data
    assert got[: end - held] == everything[held:end]  # the last frame may run past end


async def test_a_client_beyond_the_ring_gets_a_snapshot(
    client: LoopsyClient, daemon: Services
) -> None:
    def small_ring(config):  # type: ignore[no-untyped-def]
        config.sessions.ring_bytes = 64 * 1024  # the holder keeps 1 MiB at least
        return config

    daemon.config.update(small_ring)
    await client.sessions.create(argv=SH, name="big", env=QUIET_ENV, cols=100, rows=30)
    await client.sessions.send_input(
        "big", "i=0; while [ $i -lt 40000 ]; do echo line-$i-................................; "
        "i=$((i+1)); done; echo DONE-$((6*7))\n"
    )
    await read_until(client, "big", b"DONE-42\r\n")
    async with client.sessions.attach("big", offset=10) as s:
        attached = await s.recv()
        assert isinstance(attached, stream.Attached) and attached.start > 10
        snap = await s.recv()
        assert isinstance(snap, stream.Snapshot)
        screen = Screen(snap.cols, snap.rows)
        screen.feed(snap.data)
        assert any("DONE-42" in line for line in screen.display())
        assert snap.offset == attached.end


async def test_attach_beyond_the_end_is_refused(client: LoopsyClient) -> None:
    await client.sessions.create(argv=SH, name="e", env=QUIET_ENV)
    from loopsy.protocol.errors import BadRequest

    async with client.sessions.attach("e", offset=10**9, reconnect=False) as s:
        with pytest.raises(BadRequest, match="beyond the end"):
            for _ in range(5):
                await s.recv()


async def test_restart_continues_offsets_and_clients_resync(client: LoopsyClient) -> None:
    await client.sessions.create(argv=SH, name="rs", env=QUIET_ENV)
    await client.sessions.send_input("rs", "echo before\n")
    end = await read_until(client, "rs", b"before\r\n")
    info = await client.sessions.restart("rs")
    assert info.state == "running"
    async with client.sessions.attach("rs", offset=end) as s:
        attached = await s.recv()
        assert isinstance(attached, stream.Attached)
        assert attached.start >= end  # the new run's output starts after the old one's
        await s.send_input(b"echo after\n")
        await collect(s, b"after\r\n")


async def test_exit_is_sent_after_the_last_byte(client: LoopsyClient) -> None:
    await client.sessions.create(
        argv=["/bin/sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo l$i; i=$((i+1)); done; exit 5"],
        name="x",
    )
    async with client.sessions.attach("x", offset=0) as s:
        data = b""
        for _ in range(100_000):
            frame = await s.recv()
            if isinstance(frame, stream.Output):
                data += frame.data
            elif isinstance(frame, stream.Exit):
                assert frame.returncode == 5
                assert frame.offset == len(data)
                break
    assert data.endswith(b"l2999\r\n")
    assert data.count(b"\r\n") == 3000
