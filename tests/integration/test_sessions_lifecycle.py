"""Exits, kills, a SIGKILLed holder, the events stream, recordings, and screens."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.daemon.services import Services
from loopsy.protocol import stream
from tests.helpers.sessions import child_named, pid_gone, wait_for
from tests.integration.sessions_support import QUIET_ENV, SH, read_until

pytestmark = pytest.mark.anyio


async def _next_event(events: Any, kind: str) -> dict[str, Any]:
    for _ in range(100):
        event = await events.__anext__()
        if event["type"] == kind:
            return dict(event)
    raise AssertionError(f"no {kind} event")


async def test_sigkill_of_a_holder_shows_as_exited(client: LoopsyClient) -> None:
    events = client.events.stream(["sessions"])
    assert (await events.__anext__())["type"] == "events.subscribed"
    info = await client.sessions.create(argv=SH, name="victim", env=QUIET_ENV)
    assert info.holder_pid
    os.kill(info.holder_pid, signal.SIGKILL)
    with anyio.fail_after(20):
        event = await _next_event(events, "session.exited")
    await events.aclose()
    assert event["data"]["id"] == info.id
    assert event["data"]["exit"]["reason"] == "lost"
    done = await client.sessions.get("victim")
    assert done.state == "exited" and done.exit and done.exit.reason == "lost"
    # attaching says how it ended instead of hanging
    async with client.sessions.attach("victim", reconnect=False) as s:
        frame = await s.recv()
        assert isinstance(frame, stream.Exit) and frame.kind == stream.LOST


async def test_kill_records_the_signal_and_the_program_is_gone(client: LoopsyClient) -> None:
    info = await client.sessions.create(argv=["/bin/sh", "-c", "trap '' HUP; sleep 600"],
                                        name="stubborn")
    assert info.pid
    done = await client.sessions.kill("stubborn", grace=0.2)
    assert done.state == "exited" and done.exit and done.exit.signal == "KILL"
    assert pid_gone(info.pid)


async def test_exit_code_and_signal_names(client: LoopsyClient) -> None:
    await client.sessions.create(argv=["/bin/sh", "-c", "exit 42"], name="code")
    await client.sessions.create(argv=["/bin/sh", "-c", "kill -TERM $$"], name="sig")
    for _ in range(200):
        states = {s.name: s for s in await client.sessions.list()}
        if all(s.state == "exited" for s in states.values()):
            break
        await read_until_exit(client)
    assert states["code"].exit and states["code"].exit.code == 42
    assert states["sig"].exit and states["sig"].exit.signal == "TERM"


async def read_until_exit(client: LoopsyClient) -> None:
    for session in await client.sessions.list():
        if session.state == "running":
            await client.sessions.read(session.id, 0, wait=1.0)


async def test_signal_reaches_the_foreground_program(client: LoopsyClient) -> None:
    await client.sessions.create(argv=SH, name="fg", env=QUIET_ENV)
    await client.sessions.send_input("fg", "sleep 600\n")
    mark = await read_until(client, "fg", b"sleep 600\r\n")
    shell = (await client.sessions.get("fg")).pid
    assert shell is not None
    # The echo comes before the shell forks: wait until sleep is the foreground job.
    await anyio.to_thread.run_sync(lambda: wait_for(lambda: child_named(shell, "sleep"), 20))
    await client.sessions.signal("fg", "INT")  # as Ctrl-C: sleep dies, the shell stays
    await client.sessions.send_input("fg", "echo woke-$((5+5))\n")
    await read_until(client, "fg", b"woke-10", since=mark)
    assert (await client.sessions.get("fg")).state == "running"  # the shell survived


async def test_recording_is_valid_asciicast_v2(client: LoopsyClient, daemon: Services) -> None:
    await client.sessions.create(argv=SH, name="rec", env=QUIET_ENV, record=True)
    await client.sessions.send_input("rec", "printf 'caf\\303\\251-%s\\n' $((1+1))\n")
    await read_until(client, "rec", "café-2".encode())
    await client.sessions.resize("rec", 100, 30)
    await client.sessions.kill("rec")
    info = await client.sessions.get("rec")
    assert info.recording
    cast = daemon.home.session_dir(info.id) / "recording.cast"
    lines = cast.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["version"] == 2 and header["width"] == 80 and header["height"] == 24
    events = [json.loads(line) for line in lines[1:]]
    times = [e[0] for e in events]
    assert times == sorted(times)
    assert all(e[1] in ("o", "r") and isinstance(e[2], str) for e in events)
    assert "café-2" in "".join(e[2] for e in events if e[1] == "o")
    assert ["r", "100x30"] in [e[1:] for e in events]


async def test_recording_rotates_and_each_file_is_complete(
    client: LoopsyClient, daemon: Services
) -> None:
    def small(config):  # type: ignore[no-untyped-def]
        config.sessions.record_max_bytes = 64 * 1024
        return config

    daemon.config.update(small)
    await client.sessions.create(
        argv=["/bin/sh", "-c", "i=0; while [ $i -lt 6000 ]; do echo row-$i; i=$((i+1)); done"],
        name="long", record=True,
    )
    for _ in range(100):
        if (await client.sessions.get("long")).state == "exited":
            break
        await client.sessions.read("long", 0, wait=1.0)
    directory = daemon.home.session_dir((await client.sessions.get("long")).id)
    files = sorted(directory.glob("recording*.cast"))
    assert len(files) >= 2
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[0])["version"] == 2
        for line in lines[1:]:
            assert len(json.loads(line)) == 3
        assert path.stat().st_size < 80 * 1024


async def test_output_route_waits_for_new_output(client: LoopsyClient) -> None:
    await client.sessions.create(argv=SH, name="w", env=QUIET_ENV)
    first = await client.sessions.read("w", 0, wait=2.0)
    async with anyio.create_task_group() as tg:
        result: dict[str, Any] = {}

        async def reader() -> None:
            result["out"] = await client.sessions.read("w", first.next, wait=20.0)

        tg.start_soon(reader)
        await client.sessions.send_input("w", "x")
    assert result["out"].offset == first.next and "x" in result["out"].data
    assert not result["out"].gap


async def test_screen_route_and_events_for_lifecycle(client: LoopsyClient) -> None:
    events = client.events.stream()
    await events.__anext__()
    info = await client.sessions.create(argv=SH, name="ev", env=QUIET_ENV, cols=60, rows=10)
    created = await _next_event(events, "session.created")
    assert created["data"]["id"] == info.id and created["topic"] == "sessions"
    await client.sessions.send_input("ev", "echo screen-$((7*6))\n")
    await read_until(client, "ev", b"screen-42")
    screen = await client.sessions.screen("ev")
    assert screen.cols == 60 and len(screen.lines) == 10
    assert any(line.startswith("screen-42") for line in screen.lines)
    await client.sessions.rename("ev", "renamed")
    assert (await _next_event(events, "session.updated"))["data"]["name"] == "renamed"
    await client.sessions.remove("renamed", force=True)
    assert (await _next_event(events, "session.removed"))["data"]["id"] == info.id
    await events.aclose()
