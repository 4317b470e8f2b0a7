"""Sessions through the in-process daemon: create, attach, type, read, kill, remove."""

from __future__ import annotations

import pytest

from loopsy.client import LoopsyClient
from loopsy.protocol import stream

pytestmark = pytest.mark.anyio


async def test_shell_round_trip(client: LoopsyClient) -> None:
    info = await client.sessions.create(argv=["/bin/sh"], name="sh", env={"PS1": "$ "})
    assert info.state == "running" and info.pid
    async with client.sessions.attach("sh") as s:
        await s.send_input(b"echo hel''lo; exit 7\n")
        data = b""
        async for frame in s:
            if isinstance(frame, stream.Output):
                data += frame.data
            if isinstance(frame, stream.Exit):
                assert frame.returncode == 7
                break
    assert b"hello" in data
    done = await client.sessions.get("sh")
    assert done.state == "exited" and done.exit and done.exit.code == 7
    await client.sessions.remove("sh")
    assert await client.sessions.list() == []
