"""The client's own HTTP/1.1 transport for the unix socket, against scripted servers that
misbehave the ways a real peer can: idle connections closed, bodies cut short, chunked
and close-delimited bodies, early answers, silence. Each bytes-body case runs both
through httpx (``handle_async_request``, which streamed bodies also take) and through
the direct ``exchange`` that ``LoopsyClient.request`` uses for bytes bodies."""

from __future__ import annotations

import asyncio
import json
import socket
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.client.connection import UnixConnection
from loopsy.client.unix_http import CHUNK, HIGH_WATER, UnixSocketTransport, _Socket
from loopsy.protocol.errors import DaemonNotRunning, NotFound

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.connections = 0
        self.requests: list[bytes] = []


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    chunked = False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        if name.lower() == b"transfer-encoding":
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += data[:-2]
        return head + body
    return head + await reader.readexactly(length)


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%b\r\n%b"
        % (len(body), extra, body)
    )


async def serve(handler: Handler) -> AsyncIterator[Server]:
    with tempfile.TemporaryDirectory(prefix="uh-", dir="/tmp") as tmp:
        server = Server(Path(tmp) / "s.sock")

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            server.connections += 1
            try:
                await handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        listener = await asyncio.start_unix_server(on_connect, str(server.path))
        async with listener:
            yield server


class Direct:
    """The same calls as an ``httpx.AsyncClient`` (the few these tests make), sent with
    :meth:`UnixSocketTransport.exchange` as ``LoopsyClient.request`` does."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.transport = UnixSocketTransport(str(path))
        self.timeouts = httpx.Timeout(timeout).as_dict()

    async def __aenter__(self) -> Direct:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.transport.aclose()

    async def request(self, method: str, url: str, content: bytes = b"") -> httpx.Response:
        return await self.transport.exchange(method, url, [], content, self.timeouts)

    async def get(self, url: str) -> httpx.Response:
        return await self.request("GET", url)

    async def put(self, url: str, content: bytes) -> httpx.Response:
        return await self.request("PUT", url, content)

    async def post(self, url: str, content: bytes) -> httpx.Response:
        return await self.request("POST", url, content)


@pytest.fixture(params=["httpx", "direct"])
def route(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client_for(server: Server, route: str = "httpx", **kwargs: float) -> Any:
    timeout = kwargs.get("timeout", 10.0)
    if route == "direct":
        return Direct(server.path, timeout)
    return httpx.AsyncClient(
        transport=UnixSocketTransport(str(server.path)),
        base_url="http://localhost",
        timeout=httpx.Timeout(timeout),
    )


def keep_alive(answer: Callable[[bytes], bytes]) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(1000):
            request = await read_request(reader)
            writer.write(answer(request))
            await writer.drain()

    return handler


async def test_keep_alive_reuses_one_connection(route: str) -> None:
    async for server in serve(keep_alive(lambda request: ok(request.split(b" ")[1]))):
        async with client_for(server, route) as http:
            for i in range(20):
                response = await http.put(f"/x/{i}", content=b"body")
                assert response.content == f"/x/{i}".encode()
        assert server.connections == 1


async def test_idle_connection_closed_by_the_server_is_retried(route: str) -> None:
    async def one_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok())
        await writer.drain()
        # ... and close without saying "Connection: close", as a server's idle timeout does

    async for server in serve(one_answer):
        async with client_for(server, route) as http:
            for _ in range(5):
                assert (await http.post("/x", content=b"again")).json() == {"ok": True}
        assert server.connections == 5


async def test_a_streamed_body_is_not_replayed_on_a_dead_connection() -> None:
    async def one_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok())
        await writer.drain()

    async def body() -> AsyncIterator[bytes]:
        yield b"once"

    async for server in serve(one_answer):
        async with client_for(server) as http:
            await http.get("/warm")
            await asyncio.sleep(0)  # let the server's close arrive
            for _ in range(50):
                try:
                    response = await http.put("/x", content=body())
                except httpx.RemoteProtocolError:
                    break  # a one-shot body on a dead connection: an error, not a silent resend
                assert response.status_code == 200  # the close was seen before reuse
                break


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world",
    ],
)
async def test_chunked_and_informational_answers(answer: bytes, route: str) -> None:
    async for server in serve(keep_alive(lambda request: answer)):
        async with client_for(server, route) as http:
            for _ in range(3):  # the connection stays usable after each
                assert (await http.get("/")).content == b"hello world"
        assert server.connections == 1


async def test_close_delimited_body(route: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + b"z" * 200_000)
        await writer.drain()

    async for server in serve(handler):
        async with client_for(server, route) as http:
            assert (await http.get("/")).content == b"z" * 200_000
            assert (await http.get("/")).content == b"z" * 200_000
        assert server.connections == 2


async def test_body_cut_short_is_an_error_and_the_pool_recovers(route: str) -> None:
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        for _ in range(10):
            await read_request(reader)
            calls += 1
            if calls == 1:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
                await writer.drain()
                return
            writer.write(ok())
            await writer.drain()

    async for server in serve(handler):
        async with client_for(server, route) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get("/")
            assert (await http.get("/")).json() == {"ok": True}


@pytest.mark.parametrize(
    "answer",
    [b"garbage\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n"],
)
async def test_malformed_answers_are_protocol_errors(answer: bytes, route: str) -> None:
    async for server in serve(keep_alive(lambda request: answer)):
        async with client_for(server, route) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get("/")


async def test_silence_is_a_read_timeout(route: str) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # until the client gives up and closes

    async for server in serve(silent):
        async with client_for(server, route, timeout=0.2) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/")


async def test_early_answer_to_a_large_upload_is_read() -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ok(b'{"error": "too big"}'))
        await writer.drain()
        writer.close()  # without reading the 32 MB body

    async def body() -> AsyncIterator[bytes]:
        for _ in range(512):
            yield b"u" * 65536

    async for server in serve(refuse):
        async with client_for(server) as http:
            response = await http.put(
                "/up", content=body(), headers={"content-length": str(512 * 65536)}
            )
            assert response.json() == {"error": "too big"}


async def test_chunked_upload_is_framed() -> None:
    seen: list[bytes] = []

    async def record(request: bytes) -> bytes:
        return ok()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(ok())
        await writer.drain()

    async def body() -> AsyncIterator[bytes]:
        yield b"part one, "
        yield b""
        yield b"part two"

    async for server in serve(handler):
        async with client_for(server) as http:
            assert (await http.put("/up", content=body())).status_code == 200
    assert seen[0].endswith(b"\r\n\r\npart one, part two")
    assert b"transfer-encoding: chunked" in seen[0].lower()


async def test_concurrent_requests_use_separate_connections(route: str) -> None:
    async def slow_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(100):
            request = await read_request(reader)
            await asyncio.sleep(0.01)
            writer.write(ok(request.split(b" ")[1]))
            await writer.drain()

    async for server in serve(slow_echo):
        async with client_for(server, route) as http:
            results = await asyncio.gather(*(http.get(f"/{i}") for i in range(8)))
            assert [r.content for r in results] == [f"/{i}".encode() for i in range(8)]
            # Later requests reuse the pooled connections.
            await asyncio.gather(*(http.get(f"/{i}") for i in range(8)))
        assert server.connections == 8


async def test_a_cancelled_request_does_not_poison_the_pool(route: str) -> None:
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        for _ in range(10):
            await read_request(reader)
            calls += 1
            if calls == 1:
                await asyncio.sleep(30)  # never answers the first one in time
            writer.write(ok())
            await writer.drain()

    async for server in serve(handler):
        async with client_for(server, route) as http:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.1):
                    await http.get("/slow")
            assert (await http.get("/next")).json() == {"ok": True}
        assert server.connections == 2


async def test_no_daemon_is_daemon_not_running(tmp_path: Path) -> None:
    async with LoopsyClient(UnixConnection(tmp_path / "missing.sock")) as client:
        with pytest.raises(DaemonNotRunning):
            await client.status()


async def test_both_routes_send_the_same_request() -> None:
    """``LoopsyClient.request`` sends plain paths directly and anything httpx would rewrite
    (dot segments, characters to encode) through httpx: the daemon sees the same target,
    query and body either way."""
    seen: list[bytes] = []

    def record(request: bytes) -> bytes:
        seen.append(request)
        return ok()

    async for server in serve(keep_alive(record)):
        async with LoopsyClient(UnixConnection(server.path)) as client:
            calls: list[tuple[str, str, dict[str, Any], Any]] = [
                ("GET", "/context/a%2Fb", {"prefix": "x y&z", "limit": 5, "after": None}, None),
                ("PUT", "/context/k", {}, {"value": "é", "ttl": 1.5}),
                ("DELETE", "/context/k", {"if_version": 3}, None),
                ("POST", "/flags", {"on": True, "off": False}, {}),
            ]
            for method, url, params, body in calls:
                await client.request(method, url, params=params, json_body=body)
                await client._http.request(  # the httpx route, as the fallback takes it
                    method,
                    url,
                    params={k: v for k, v in params.items() if v is not None} or None,
                    content=None if body is None else json.dumps(body).encode(),
                    headers={"Content-Type": "application/json"} if body is not None else None,
                )
    assert len(seen) == 8
    for direct, through_httpx in zip(seen[::2], seen[1::2], strict=True):
        assert direct.split(b"\r\n", 1)[0] == through_httpx.split(b"\r\n", 1)[0]
        assert direct.split(b"\r\n\r\n", 1)[1] == through_httpx.split(b"\r\n\r\n", 1)[1]
        for wanted in (b"host: localhost", b"content-length:", b"content-type:"):
            assert (wanted in direct.lower()) == (wanted in through_httpx.lower()), wanted


async def test_paths_httpx_would_rewrite_take_the_httpx_route() -> None:
    seen: list[bytes] = []

    def record(request: bytes) -> bytes:
        seen.append(request.split(b"\r\n", 1)[0])
        return ok()

    async for server in serve(keep_alive(record)):
        async with LoopsyClient(UnixConnection(server.path)) as client:
            await client.request("GET", "/a/../b")
            await client.request("GET", "/sp ace")
    assert seen == [b"GET /api/v1/b HTTP/1.1", b"GET /api/v1/sp%20ace HTTP/1.1"]


async def test_errors_and_answers_through_the_direct_route() -> None:
    answers = [
        b"HTTP/1.1 404 Not Found\r\ncontent-length: 48\r\n\r\n"
        b'{"error":{"code":"not_found","message":"gone"}}\n',
        ok(b'{"value": 1}'),
    ]

    async for server in serve(keep_alive(lambda request: answers.pop(0))):
        async with LoopsyClient(UnixConnection(server.path)) as client:
            with pytest.raises(NotFound, match="gone"):
                await client.request("GET", "/x")
            response = await client.request("GET", "/y", request_timeout=2.0)
            assert response.status_code == 200 and response.json() == {"value": 1}
            assert response.headers["content-type"] == "application/json"
        assert server.connections == 1


async def test_a_connection_stops_reading_past_its_high_water_mark() -> None:
    """Bytes nobody asked for yet wait in the kernel, not in the client's memory."""
    left, right = socket.socketpair()
    left.setblocking(False)
    total = 4 * HIGH_WATER

    def pour() -> None:
        right.sendall(b"x" * total)
        right.close()

    writer = threading.Thread(target=pour, daemon=True)
    writer.start()
    connection = _Socket(left)
    try:
        got = await connection.read_exactly(10)
        largest = len(connection.buffer)
        while len(got) < total:
            for _ in range(20):  # let the loop run the reader if it is still registered
                await asyncio.sleep(0)
            largest = max(largest, len(connection.buffer))
            chunk = await connection.read_some(CHUNK)
            assert chunk, "the stream ended early"
            got += chunk
        assert got == b"x" * total
        assert largest <= HIGH_WATER + CHUNK
        assert await connection.read_some(1) == b""
    finally:
        connection.close()
        writer.join(timeout=10)
