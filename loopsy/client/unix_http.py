"""HTTP/1.1 to the local daemon over its unix socket, as an httpx transport, without
httpcore.

Measured on this machine kind, httpcore and its anyio stream wrappers cost ~700 µs of CPU
per request, a hand-written exchange ~60 µs: for a CLI, the TUI or an agent talking to
its own daemon, the generic client was most of the round trip. This transport speaks
just what the daemon (uvicorn) speaks — keep-alive HTTP/1.1, bodies framed by
Content-Length, chunked or closed connections — and keeps httpx as the API, so requests,
streamed bodies, timeouts and errors look the same to the rest of the client.

- A request with a bytes body is sent in one ``send`` (one wakeup of the daemon).
- Idle connections are kept (at most :data:`MAX_IDLE`) and reused; one the daemon closed
  while idle is detected and the request retried once on a new connection, but only if
  nothing of the answer had arrived and the body can be sent again.
- A connection is returned to the pool only after its response was read to the end;
  anything else (an error, a cancelled read, a body left unread) closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass
from typing import Literal

import httpx

MAX_IDLE = 8
CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024


class _Socket:
    """A non-blocking unix socket with a read buffer, driven by the loop's ``sock_*``
    calls. Not asyncio transports: a transport that fails a write closes itself and drops
    an answer already waiting in the kernel, such as a 413 the daemon sent before it
    stopped reading an upload; a plain socket still reads it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.eof = False
        self.loop = asyncio.get_running_loop()

    def usable(self) -> bool:
        """Still open at the other end: an idle connection the daemon closed reads as EOF."""
        if self.eof or self.buffer or self.sock.fileno() < 0:
            return False
        try:
            peeked = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True  # nothing to read: open and idle
        except OSError:
            return False
        return bool(peeked)  # b"": closed; bytes: unasked-for data, not ours to reuse

    async def send(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    async def fill(self) -> bool:
        """Read more into the buffer; False at the end of the stream."""
        try:
            data = await self.loop.sock_recv(self.sock, CHUNK)
        except ConnectionError:
            data = b""  # reset by the daemon: the end, with what had arrived kept
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    async def read_until(self, separator: bytes, limit: int) -> bytes:
        start = 0
        while (index := self.buffer.find(separator, start)) < 0:
            if len(self.buffer) > limit:
                raise ValueError("line too long")
            start = max(0, len(self.buffer) - len(separator) + 1)
            if not await self.fill():
                raise asyncio.IncompleteReadError(bytes(self.buffer), None)
        end = index + len(separator)
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        return data

    async def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not await self.fill():
                raise asyncio.IncompleteReadError(bytes(self.buffer), size)
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    async def read_some(self, most: int) -> bytes:
        if not self.buffer and not await self.fill():
            return b""
        data = bytes(self.buffer[:most])
        del self.buffer[:most]
        return data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _Stale(Exception):
    """The connection ended before any byte of the answer: safe to retry elsewhere."""


class UnixSocketTransport(httpx.AsyncBaseTransport):
    def __init__(self, path: str) -> None:
        self.path = path
        self._idle: list[_Socket] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        replayable = isinstance(request.stream, httpx.ByteStream)
        for attempt in range(2):
            connection, reused = await self._connection(timeouts.get("connect"))
            try:
                return await self._exchange(connection, request, timeouts)
            except _Stale:
                connection.close()
                if not (reused and replayable) or attempt:
                    raise httpx.RemoteProtocolError(
                        "the daemon closed the connection without answering", request=request
                    ) from None
            except BaseException:
                connection.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def _connection(self, limit: float | None) -> tuple[_Socket, bool]:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                return connection, True
            connection.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(limit):
                await asyncio.get_running_loop().sock_connect(sock, self.path)
        except TimeoutError:
            sock.close()
            raise httpx.ConnectTimeout(f"connecting to {self.path} timed out") from None
        except OSError as exc:
            sock.close()
            raise httpx.ConnectError(str(exc)) from exc
        except BaseException:
            sock.close()
            raise
        return _Socket(sock), False

    def _release(self, connection: _Socket, reusable: bool) -> None:
        if reusable and not connection.buffer and len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
        else:
            connection.close()

    async def _exchange(
        self, connection: _Socket, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> httpx.Response:
        head = _request_head(request)
        try:
            async with asyncio.timeout(timeouts.get("write")):
                if isinstance(request.stream, httpx.ByteStream):
                    await connection.send(head + b"".join(request.stream))
                else:
                    await self._send_streamed(connection, head, request)
        except TimeoutError:
            raise httpx.WriteTimeout("writing to the daemon timed out", request=request) from None
        except ConnectionError:
            # The daemon answered early (413 before the whole upload) and stopped reading,
            # or closed an idle connection: reading the head tells which (answer or _Stale).
            pass
        status, reason, headers = await _read_head(connection, timeouts.get("read"), request)
        framing = _framing(request.method, status, headers)
        stream = _ResponseStream(self, connection, framing, timeouts.get("read"), request)
        return httpx.Response(
            status,
            headers=headers,
            stream=stream,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def _send_streamed(
        self, connection: _Socket, head: bytes, request: httpx.Request
    ) -> None:
        await connection.send(head)
        chunked = "transfer-encoding" in request.headers
        async for chunk in request.stream:  # type: ignore[union-attr]
            if chunked and chunk:
                chunk = b"%x\r\n%b\r\n" % (len(chunk), chunk)
            if chunk:
                await connection.send(chunk)
        if chunked:
            await connection.send(b"0\r\n\r\n")


def _protocol_error(message: str, request: httpx.Request) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(message, request=request)


def _request_head(request: httpx.Request) -> bytes:
    target = request.url.raw_path
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), target)]
    lines.extend(b"%s: %s" % (name, value) for name, value in request.headers.raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read_head(
    connection: _Socket, limit: float | None, request: httpx.Request
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    for _ in range(10):  # an informational 1xx is followed by the answer
        try:
            async with asyncio.timeout(limit):
                raw = await connection.read_until(b"\r\n\r\n", MAX_HEAD)
        except TimeoutError:
            raise httpx.ReadTimeout("the daemon did not answer in time", request=request) from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _Stale() from None
            raise _protocol_error("the answer's head was cut short", request) from None
        except ValueError:
            raise _protocol_error("the answer's head is too long", request) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc), request=request) from None
        lines = raw[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            raise _protocol_error(f"bad status line {lines[0]!r}", request) from None
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise _protocol_error(f"bad header line {line!r}", request)
            headers.append((name.strip(), value.strip()))
        if not 100 <= status < 200 or status == 101:
            return status, parts[2] if len(parts) > 2 else b"", headers
    raise _protocol_error("too many informational answers", request)


@dataclass(frozen=True)
class _Framing:
    """How the body ends: after ``length`` bytes, at the last chunk, or at close."""

    kind: Literal["length", "chunked", "close"]
    length: int = 0
    close: bool = False  # the daemon closes the connection after this answer


def _framing(method: str, status: int, headers: Iterable[tuple[bytes, bytes]]) -> _Framing:
    if method == "HEAD" or status in (204, 304):
        return _Framing("length", 0)
    length = None
    chunked = close = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif lowered == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        return _Framing("chunked", close=close)
    if length is not None:
        return _Framing("length", length, close)
    return _Framing("close", close=True)


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(
        self,
        transport: UnixSocketTransport,
        connection: _Socket,
        framing: _Framing,
        timeout: float | None,
        request: httpx.Request,
    ) -> None:
        self._transport = transport
        self._connection: _Socket | None = connection
        self._framing = framing
        self._timeout = timeout
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        reusable = False
        try:
            async for chunk in self._body(connection):
                yield chunk
            reusable = not self._framing.close
        finally:
            self._connection = None
            self._transport._release(connection, reusable)

    async def _body(self, connection: _Socket) -> AsyncIterator[bytes]:
        kind = self._framing.kind
        try:
            if kind == "length":
                left = self._framing.length
                while left > 0:
                    chunk = await self._read(connection.read_some(min(CHUNK, left)))
                    if not chunk:
                        raise httpx.RemoteProtocolError(
                            "the daemon closed the connection mid-answer", request=self._request
                        )
                    left -= len(chunk)
                    yield chunk
            elif kind == "chunked":
                while True:
                    size_line = await self._read(connection.read_until(b"\r\n", MAX_HEAD))
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        await self._read(_trailer(connection))
                        return
                    data = await self._read(connection.read_exactly(size + 2))
                    yield data[:-2]
            else:
                while chunk := await self._read(connection.read_some(CHUNK)):
                    yield chunk
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError(
                "the daemon closed the connection mid-answer", request=self._request
            ) from None
        except ValueError:
            raise httpx.RemoteProtocolError("bad chunked body", request=self._request) from None
        except (ConnectionError, OSError) as exc:
            raise httpx.ReadError(str(exc), request=self._request) from None

    async def _read(self, awaitable: Awaitable[bytes]) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                data: bytes = await awaitable
        except TimeoutError:
            raise httpx.ReadTimeout("the daemon stopped sending", request=self._request) from None
        return data

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()  # the body was not read to the end: the connection is spent


async def _trailer(connection: _Socket) -> bytes:
    """After the last chunk: trailer lines (none from uvicorn), then an empty line."""
    for _ in range(100):
        line = await connection.read_until(b"\r\n", MAX_HEAD)
        if line == b"\r\n":
            return line
    raise ValueError("too many trailer lines")
