"""The daemon's tunnel dispatcher with a stand-in ASGI app: stream limits, flow control
at the point the app takes data, pings, and protocol violations."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest

from loopsy.daemon.auth import CALLER_KEY, TRANSPORT_KEY, Caller
from loopsy.daemon.relay_link.tunnel import TunnelServer
from loopsy.protocol import tunnel
from loopsy.protocol.errors import ChannelError
from loopsy.protocol.tunnel import Frame, Kind

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.changed = anyio.Event()

    async def send(self, plaintext: bytes) -> None:
        self.frames += tunnel.decode_frames(plaintext)
        self.changed.set()
        self.changed = anyio.Event()

    async def wait_for(self, predicate: Any, timeout: float = 5) -> None:
        with anyio.fail_after(timeout):
            while not predicate(self.frames):
                await self.changed.wait()


def request(stream: int, method: str = "POST", path: str = "/api/v1/x") -> Frame:
    return tunnel.RequestHead(method, path, [("content-type", "application/json")]).frame(stream)


async def hold_forever(scope: Any, receive: Any, send: Any) -> None:
    await anyio.sleep_forever()


async def test_stream_beyond_the_limit_is_reset_not_the_connection() -> None:
    out = Recorder()
    server = TunnelServer(hold_forever, Caller("phone", "a1b2c3d4e5f6"), out.send)
    for ident in range(1, tunnel.MAX_STREAMS + 2):
        server.receive(request(ident).encode())
    await out.wait_for(lambda frames: any(f.kind == Kind.RESET for f in frames))
    (reset,) = [f for f in out.frames if f.kind == Kind.RESET]
    assert reset.stream == tunnel.MAX_STREAMS + 1
    assert tunnel.decode_close(reset.payload) == (429, "too many streams")
    await server.close()


async def test_scope_names_the_phone_and_the_transport() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    out = Recorder()
    server = TunnelServer(app, Caller("phone", "a1b2c3d4e5f6"), out.send)
    server.receive(request(1, "GET", "/api/v1/sessions/a%2Fb?x=1").encode())
    await out.wait_for(lambda frames: any(f.kind == Kind.END for f in frames))
    assert seen[CALLER_KEY] == Caller("phone", "a1b2c3d4e5f6")
    assert seen[TRANSPORT_KEY] == "relay"
    assert seen["path"] == "/api/v1/sessions/a/b" and seen["raw_path"] == b"/api/v1/sessions/a%2Fb"
    assert seen["query_string"] == b"x=1"
    assert [f.kind for f in out.frames] == [Kind.HTTP_RESPONSE, Kind.END]  # empty body: no DATA
    await server.close()


async def test_credit_returns_only_when_the_app_reads() -> None:
    reads: list[bytes] = []
    gate = anyio.Event()

    async def slow_reader(scope: Any, receive: Any, send: Any) -> None:
        await gate.wait()
        while True:
            message = await receive()
            reads.append(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    out = Recorder()
    server = TunnelServer(slow_reader, Caller("phone", "a1b2c3d4e5f6"), out.send)
    server.receive(request(1).encode())
    chunk = b"x" * 65536
    for _ in range(4):  # the whole stream window, unread by the app
        server.receive(Frame(Kind.DATA, 1, chunk).encode())
    await anyio.sleep(0.05)
    assert not any(f.kind == Kind.WINDOW for f in out.frames)  # no credit while unread
    with pytest.raises(ChannelError, match="overran"):
        server.receive(Frame(Kind.DATA, 1, b"y").encode())  # beyond the window
    gate.set()
    server.receive(Frame(Kind.END, 1).encode())
    await out.wait_for(lambda frames: any(f.kind == Kind.END for f in frames))
    grants = [tunnel.decode_window(f.payload) for f in out.frames if f.kind == Kind.WINDOW]
    assert sum(grants) >= 4 * 65536 and b"".join(reads) == chunk * 4
    await server.close()


async def test_ping_pong_and_violations() -> None:
    out = Recorder()
    server = TunnelServer(hold_forever, Caller("phone", "a1b2c3d4e5f6"), out.send)
    server.receive(Frame(Kind.PING, 0, b"12345678").encode())
    await out.wait_for(lambda frames: frames and frames[-1].kind == Kind.PONG)
    assert out.frames[-1].payload == b"12345678"
    server.receive(request(5).encode())
    with pytest.raises(ChannelError, match="increase"):
        server.receive(request(5).encode())
    with pytest.raises(ChannelError, match="not valid"):
        server.receive(tunnel.ResponseHead(200, []).frame(5).encode())
    with pytest.raises(ChannelError, match="not valid"):
        server.receive(tunnel.message_frame(5, b"ws on an http stream").encode())
    await server.close()


async def test_websocket_refusal_and_messages() -> None:
    async def echo_ws(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        if scope["path"].endswith("/refuse"):
            await send({"type": "websocket.close", "code": 4403, "reason": "no"})
            return
        await send({"type": "websocket.accept", "subprotocol": "s1"})
        while True:
            message: MutableMapping[str, Any] = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "bytes": message["bytes"] * 2})

    out = Recorder()
    server = TunnelServer(echo_ws, Caller("phone", "a1b2c3d4e5f6"), out.send)
    server.receive(tunnel.OpenHead("/api/v1/refuse", [], []).frame(1).encode())
    await out.wait_for(lambda frames: any(f.kind == Kind.WS_CLOSE for f in frames))
    assert tunnel.decode_close(out.frames[0].payload)[0] == 4403
    server.receive(tunnel.OpenHead("/api/v1/echo", [], ["s1"]).frame(3).encode())
    big = bytes(range(256)) * 1024  # 256 KiB: sent back as 512 KiB, in fragments
    for fragment in tunnel.message_frames(3, big):
        server.receive(fragment.encode())
    assembler = tunnel.MessageAssembler()

    def whole(frames: list[Frame]) -> bool:
        return sum(len(f.payload) - 1 for f in frames if f.kind == Kind.WS_MESSAGE) >= 2 * len(big)

    # the answer exceeds the stream window: grant credit as a phone would
    for _ in range(20):
        got = sum(len(f.payload) for f in out.frames if f.kind == Kind.WS_MESSAGE)
        if whole(out.frames):
            break
        server.receive(tunnel.window_frame(3, 262144).encode())
        server.receive(tunnel.window_frame(0, 262144).encode())
        with anyio.move_on_after(0.5):
            await out.wait_for(
                lambda frames, g=got: (
                    sum(len(f.payload) for f in frames if f.kind == Kind.WS_MESSAGE) > g
                )
            )
    message = None
    for f in out.frames:
        if f.kind == Kind.WS_MESSAGE and f.stream == 3:
            message = assembler.feed(f.payload) or message
    assert message == big * 2
    assert (
        tunnel.decode_accept(next(f for f in out.frames if f.kind == Kind.WS_ACCEPT).payload)
        == "s1"
    )
    await server.close()
