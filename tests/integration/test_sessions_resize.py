"""A phone-like resize storm while a program repaints the whole screen: the debouncer
applies the first size and then only the newest, and the holder's memory stays put."""

from __future__ import annotations

import pytest

from loopsy.client import LoopsyClient
from loopsy.config import Config
from loopsy.daemon.services import Services
from loopsy.protocol import stream
from tests.helpers.sessions import rss_kb

pytestmark = pytest.mark.anyio

# Clears and redraws every row, and prints the PTY's size as the program sees it.
REPAINT = (
    "while :; do printf '\\033[H\\033[2J'; printf 'size %s\\n' \"$(stty size)\"; "
    "i=0; while [ $i -lt 30 ]; do printf 'row %s ....................\\n' $i; "
    "i=$((i+1)); done; done"
)
STORM = [(60 + i, 20 + i % 17) for i in range(40)]


def long_debounce(config: Config) -> Config:
    # Long enough that the whole burst lands inside one interval, whatever the load.
    config.sessions.resize_debounce_ms = 2000
    return config


async def test_a_resize_storm_during_repaints_is_coalesced_in_bounded_memory(
    client: LoopsyClient, daemon: Services
) -> None:
    daemon.config.update(long_debounce)
    info = await client.sessions.create(argv=["/bin/sh", "-c", REPAINT], name="paint")
    assert info.holder_pid is not None
    async with client.sessions.attach("paint") as s:
        seen = b""
        for _ in range(10_000):  # let the repaint loop run and the holder settle
            frame = await s.recv()
            if isinstance(frame, stream.Output):
                seen += frame.data
                if seen.count(b"size 24 80") >= 20:
                    break
        before = rss_kb(info.holder_pid)

        for cols, rows in STORM:
            await s.resize(cols, rows)
        last = STORM[-1]
        resized: list[tuple[int, int]] = []
        tail = b""
        for _ in range(100_000):
            frame = await s.recv()
            assert frame is not None
            if isinstance(frame, stream.Resized):
                resized.append((frame.cols, frame.rows))
            elif isinstance(frame, stream.Output):
                tail = (tail + frame.data)[-4096:]
            if resized and resized[-1] == last and f"size {last[1]} {last[0]}".encode() in tail:
                break
        else:
            raise AssertionError(f"the last size never applied; RESIZED: {resized}")
        after = rss_kb(info.holder_pid)

    assert resized == [STORM[0], last]  # 40 requests: the first at once, then the newest
    assert (await client.sessions.get("paint")).cols == last[0]
    assert after - before < 4096, f"holder RSS grew {after - before} KiB in the storm"
