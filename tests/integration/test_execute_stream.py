"""The streaming form, /execute/stream: output as it comes, cancel, and garbage frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from websockets.exceptions import ConnectionClosed

from loopsy.client import LoopsyClient
from loopsy.client.connection import WebSocketStream
from loopsy.client.execute import ExecCommand
from loopsy.daemon.routes import execute as execute_routes
from loopsy.daemon.services import Services
from loopsy.protocol.errors import Forbidden, RateLimited
from loopsy.protocol.execute import STDERR, STDOUT, StreamStarted
from tests.integration.execute_support import WAIT, Fifo, JobEnds, no_live_process_in_group

pytestmark = pytest.mark.anyio


async def test_output_arrives_before_the_command_ends(
    client: LoopsyClient, tmp_path: Path
) -> None:
    fifo = Fifo(tmp_path)
    chunks: list[tuple[int, bytes]] = []
    first = anyio.Event()

    def on_output(stream: int, data: bytes) -> None:
        chunks.append((stream, data))
        first.set()

    command = ExecCommand(
        argv=["sh", "-c", f"echo first; read line < {fifo.path}; echo \"$line\" >&2; exit 3"]
    )
    async with anyio.create_task_group() as tg:
        results = []

        async def run() -> None:
            results.append(await client.execute.stream(command, on_output=on_output))

        tg.start_soon(run)
        with anyio.fail_after(WAIT):
            await first.wait()
        assert chunks == [(STDOUT, b"first\n")]  # the command is still waiting on us
        await fifo.write("second\n")
    [status] = results
    assert chunks == [(STDOUT, b"first\n"), (STDERR, b"second\n")]
    assert status.exit_code == 3 and status.type == "exit"


async def test_bytes_are_passed_exactly(client: LoopsyClient) -> None:
    received = bytearray()
    command = ExecCommand(argv=["printf", "\\000\\377\\033[31mred\\r\\n"])
    status = await client.execute.stream(command, on_output=lambda s, d: received.extend(d))
    assert bytes(received) == b"\x00\xff\x1b[31mred\r\n"
    assert status.exit_code == 0


async def test_started_then_timeout(client: LoopsyClient) -> None:
    started: list[StreamStarted] = []
    status = await client.execute.stream(
        ExecCommand(argv=["sleep", "300"], timeout=0.3),
        on_output=lambda s, d: None,
        on_started=started.append,
    )
    assert status.timed_out and status.signal == 15
    assert started[0].job_id == status.job_id and started[0].pid == status.pid


async def open_stream(client: LoopsyClient) -> WebSocketStream:
    return await client.connection.open_websocket("/execute/stream")


async def closed_with(ws: WebSocketStream) -> tuple[int, list[Any]]:
    """Read to the close; the JSON frames seen on the way, and the close code."""
    frames: list[Any] = []
    with anyio.fail_after(WAIT):
        while True:
            try:
                frame = await ws.recv()
            except ConnectionClosed as closed:
                assert closed.rcvd is not None
                return closed.rcvd.code, frames
            if isinstance(frame, str):
                frames.append(json.loads(frame))


async def test_cancel_frame(client: LoopsyClient) -> None:
    ws = await open_stream(client)
    await ws.send(json.dumps({"argv": ["sleep", "300"]}))
    started = json.loads(await ws.recv())
    assert started["type"] == "started"
    await ws.send(json.dumps({"type": "cancel"}))
    code, frames = await closed_with(ws)
    assert code == 1000
    assert frames[-1]["type"] == "exit" and frames[-1]["cancelled"] is True
    assert no_live_process_in_group(started["pid"])


async def test_closing_the_socket_cancels(client: LoopsyClient, daemon: Services) -> None:
    ends = JobEnds(daemon)
    ws = await open_stream(client)
    await ws.send(json.dumps({"argv": ["sh", "-c", "sleep 300 & sleep 300"]}))
    started = json.loads(await ws.recv())
    await ws.close()
    record = await ends.next()
    assert record["cancelled"] is True and record["job"] == started["job_id"]
    assert no_live_process_in_group(started["pid"])
    assert await client.execute.jobs() == []
    ends.close()


@pytest.mark.parametrize(
    ("first", "code", "message"),
    [
        (b"\x01binary", 4400, "JSON text"),
        ("not json", 4400, "not valid JSON"),
        ("[1, 2]", 4422, "invalid request"),
        (json.dumps({"argv": "ls"}), 4422, "argv"),
        (json.dumps({"argv": []}), 4422, "empty"),
        (json.dumps({"argv": ["ls"], "nope": 1}), 4422, "nope"),
        (json.dumps({"argv": ["ls\x00"]}), 4422, "NUL"),
        (json.dumps({"argv": ["rm", "-rf", "/tmp/x"]}), 4403, "denylist"),
        (json.dumps({"argv": ["no-such-program-here"]}), 4404, "no executable"),
    ],
)
async def test_bad_first_frames(
    client: LoopsyClient, first: bytes | str, code: int, message: str
) -> None:
    ws = await open_stream(client)
    await ws.send(first)
    closed, frames = await closed_with(ws)
    assert closed == code
    [error] = frames
    assert error["type"] == "error" and error["status"] == code - 4000
    assert message in error["error"]["message"]


async def test_garbage_after_start_cancels_and_says_why(client: LoopsyClient) -> None:
    for garbage in (b"\x00\x01", "{}", '{"type": "resize"}', "not json"):
        ws = await open_stream(client)
        await ws.send(json.dumps({"argv": ["sleep", "300"]}))
        started = json.loads(await ws.recv())
        await ws.send(garbage)
        code, frames = await closed_with(ws)
        assert code == 4400
        assert "unexpected frame" in frames[-1]["error"]["message"]
        assert no_live_process_in_group(started["pid"])


async def test_no_request_in_time(client: LoopsyClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(execute_routes, "REQUEST_WAIT", 0.2)
    ws = await open_stream(client)
    code, frames = await closed_with(ws)
    assert code == 4400 and "no request within" in frames[0]["error"]["message"]


async def test_client_raises_the_refusal_with_its_hint(client: LoopsyClient) -> None:
    with pytest.raises(Forbidden) as refused:
        await client.execute.stream(
            ExecCommand(shell="echo ok; rm -rf /tmp/x"), on_output=lambda s, d: None
        )
    assert "run through sh" in refused.value.message
    assert "guard rail" in str(refused.value.hint)


async def test_rate_limit_refuses_the_handshake_with_429(
    client: LoopsyClient, daemon: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon.limiter, "_clock", lambda: 1000.0)
    for _ in range(30):
        await client.execute.run(["true"])
    with pytest.raises(RateLimited) as limited:
        await client.execute.stream(ExecCommand(argv=["true"]), on_output=lambda s, d: None)
    assert limited.value.retry_after >= 1
    assert "rateLimits.execute" in str(limited.value.hint)
