"""Shared steps for the sessions integration tests."""

from __future__ import annotations

import anyio

from loopsy.client import LoopsyClient
from loopsy.client.attach import Attachment
from loopsy.protocol import stream

SH = ["/bin/sh"]
QUIET_ENV = {"PS1": "$ ", "ENV": "", "HISTFILE": "/dev/null"}


async def read_until(client: LoopsyClient, ref: str, marker: bytes, since: int = 0) -> int:
    """Long-poll the output route until ``marker`` shows; returns the offset after it."""
    seen = b""
    offset = since
    with anyio.move_on_after(30):
        for _ in range(1000):
            out = await client.sessions.read(ref, offset, wait=5.0)
            seen += out.data.encode()
            offset = out.next
            if marker in seen:
                return offset
            if out.exited:
                break
    raise AssertionError(f"{marker!r} never appeared; saw {seen[-300:]!r}")


async def collect(session: Attachment, until: bytes, limit: int = 10_000) -> bytes:
    """Output frames' bytes until ``until`` appears (bounded in frames)."""
    data = b""
    for _ in range(limit):
        frame = await session.recv()
        assert frame is not None, "the stream ended"
        if isinstance(frame, stream.Output):
            data += frame.data
            if until in data:
                return data
    raise AssertionError(f"{until!r} never arrived")
