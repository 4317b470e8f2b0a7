"""Hostile input on the attach WebSocket and the sessions routes: a clear error or close
code, and the session unharmed."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from loopsy.client import LoopsyClient
from loopsy.protocol import stream
from loopsy.protocol.errors import BadRequest, Conflict, NotFound, ValidationFailed
from tests.integration.sessions_support import QUIET_ENV, SH, read_until

pytestmark = pytest.mark.anyio


async def _close_after(client: LoopsyClient, ref: str, *frames: bytes | str) -> tuple[int, Any]:
    """Send ``frames`` on a raw attach; return the close code and the last ERROR frame."""
    ws: Any = await client.websocket(f"/sessions/{ref}/attach")
    error = None
    for frame in frames:
        try:
            await ws.send(frame)
        except ConnectionClosed:
            break  # the daemon closed first; its ERROR frame is still to be read
    try:
        for _ in range(1000):
            message = await ws.recv()
            if isinstance(message, bytes) and message[:1] == bytes([stream.ERROR]):
                error = stream.decode(message)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code, error
    raise AssertionError("the daemon did not close the stream")


ATTACH = stream.encode(stream.Attach(0))


@pytest.mark.parametrize(
    ("frames", "code", "words"),
    [
        ([b"\x7f"], 4400, "unknown frame type"),
        ([stream.encode(stream.Input(b"x"))], 4400, "first frame must be ATTACH"),
        (["hello"], 4400, "binary"),
        ([ATTACH, b"\x85\x00\x00"], 4400, "ACK frame is 3 bytes"),
        ([ATTACH, bytes([stream.INPUT]) + b"x" * (stream.MAX_INPUT + 1)], 4413, "limit"),
        ([ATTACH, ATTACH], 4400, "already attached"),
        ([ATTACH, stream.encode(stream.Ack(10**12))], 4400, "were sent"),
        ([ATTACH, stream.encode(stream.Output(0, b"spoof"))], 4400, "not sent by clients"),
        ([ATTACH, bytes([stream.CONTROL]) + b'{"op":"shutdown"}'], 4400, "not sent by clients"),
        ([ATTACH, b"\x83\x00\x00\x00\x10"], 4400, "out of range"),
        ([ATTACH, b"\x84KILLALL"], 4400, "not allowed"),
        ([stream.encode(stream.Attach(10**9))], 4400, "beyond the end"),
    ],
)
async def test_bad_frames_close_with_a_clear_code(
    client: LoopsyClient, frames: list[bytes | str], code: int, words: str
) -> None:
    await client.sessions.create(argv=SH, name="h", env=QUIET_ENV)
    got, error = await _close_after(client, "h", *frames)
    assert got == code
    assert error is not None and words in error.message
    # the session is unharmed
    await client.sessions.send_input("h", "echo alive-$((3*3))\n")
    await read_until(client, "h", b"alive-9")
    assert (await client.sessions.get("h")).state == "running"


async def test_attach_to_a_missing_session_is_4404(client: LoopsyClient) -> None:
    got, error = await _close_after(client, "nope", ATTACH)
    assert got == 4404 and error is not None and "no session" in error.message


async def test_input_to_an_exited_session_is_an_error_not_a_crash(client: LoopsyClient) -> None:
    await client.sessions.create(argv=["/bin/sh", "-c", "exit 0"], name="gone")
    async with client.sessions.attach("gone", offset=0) as s:
        for _ in range(100):
            frame = await s.recv()
            if isinstance(frame, stream.Exit):
                break
        await s.send_input(b"ls\n")
        frame = await s.recv()
        assert isinstance(frame, stream.Error) and frame.code == 409
        assert "exited" in frame.message
    with pytest.raises(Conflict, match="exited"):
        await client.sessions.send_input("gone", "ls\n")
    with pytest.raises(Conflict):
        await client.sessions.resize("gone", 100, 30)


@pytest.mark.parametrize(
    "body",
    [
        {"argv": []},
        {"argv": ["sh"], "agent": "shell"},
        {"argv": ["a\0b"]},
        {"cols": 0},
        {"rows": 100000},
        {"name": "../etc"},
        {"name": "x" * 80},
        {"env": {"A=B": "c"}},
        {"agent": "no-such-agent"},
        {"cwd": "/definitely/not/here"},
        {"argv": ["/no/such/program"]},
        {"agent": "shell", "auto_approve": True},
        {"unknown": 1},
    ],
)
async def test_bad_create_requests(client: LoopsyClient, body: dict[str, Any]) -> None:
    with pytest.raises((ValidationFailed, NotFound, BadRequest)) as caught:
        await client.request("POST", "/sessions", json_body=body)
    assert caught.value.message
    assert await client.sessions.list() == []


async def test_names_are_unique_and_refs_are_checked(client: LoopsyClient) -> None:
    await client.sessions.create(argv=SH, name="one", env=QUIET_ENV)
    with pytest.raises(Conflict, match="exists"):
        await client.sessions.create(argv=SH, name="one")
    two = await client.sessions.create(argv=SH, env=QUIET_ENV)
    with pytest.raises(Conflict):
        await client.sessions.rename(two.id, "one")
    with pytest.raises(ValidationFailed):
        await client.sessions.rename(two.id, "bad name")
    with pytest.raises(NotFound):
        await client.sessions.get("../../etc/passwd")
    with pytest.raises(Conflict, match="running"):
        await client.sessions.remove("one")
    await client.sessions.remove("one", force=True)
    assert [s.name for s in await client.sessions.list()] == [two.name]


async def test_bad_signal_and_sizes_are_refused(client: LoopsyClient) -> None:
    await client.sessions.create(argv=SH, name="s", env=QUIET_ENV)
    with pytest.raises(ValidationFailed, match="unknown signal"):
        await client.sessions.signal("s", "SEGV")
    with pytest.raises(ValidationFailed):
        await client.sessions.resize("s", 5000, 10)
    with pytest.raises(ValidationFailed):
        await client.sessions.read("s", -1)
    with pytest.raises(BadRequest, match="beyond the end"):
        await client.sessions.read("s", 10**9)
