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
- :meth:`UnixSocketTransport.exchange` is the same exchange without httpx's request side:
  ``LoopsyClient.request`` sends every call whose body is bytes through it (most of the
  API), because building an ``httpx.Request`` (URL parsing and merging, header
  normalisation, the client's auth, redirect and cookie layers) cost ~100 µs of the
  ~300 µs of client CPU a context call took. Answers are still ``httpx.Response`` objects
  and failures the same httpx exceptions, so callers see one client.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

MAX_IDLE = 8
CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024
HIGH_WATER = 1024 * 1024  # unread bytes a connection buffers before it stops reading


class _Socket:
    """A non-blocking unix socket with a read buffer. Not an asyncio transport: a
    transport that fails a write closes itself and drops an answer already waiting in the
    kernel, such as a 413 the daemon sent before it stopped reading an upload; a plain
    socket still reads it.

    The socket stays registered with the loop for reading while it is open (data lands in
    the buffer, a waiting read is woken), instead of one ``sock_recv`` per read, which
    registers and unregisters the descriptor each time: two system calls and a future
    less per read, and an idle connection the daemon closed is seen without asking. Past
    :data:`HIGH_WATER` unread bytes it stops reading until the buffer drains.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.eof = False
        self.loop = asyncio.get_running_loop()
        self._fd = sock.fileno()
        self._waiter: asyncio.Future[None] | None = None
        self._reading = True
        self.loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            data = self.sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # reset by the daemon: the end, with what had arrived kept
        if data:
            self.buffer += data
            if len(self.buffer) >= HIGH_WATER:
                self._pause()
        else:
            self.eof = True
            self._pause()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _pause(self) -> None:
        if self._reading:
            self._reading = False
            self.loop.remove_reader(self._fd)

    def _consumed(self) -> None:
        if not self._reading and not self.eof and len(self.buffer) < HIGH_WATER:
            self._reading = True
            self.loop.add_reader(self._fd, self._readable)

    def usable(self, *, probe: bool) -> bool:
        """Still open and idle. A connection the daemon closed has usually read its EOF by
        now; ``probe`` also asks the kernel, for a request that could not be sent again
        (a streamed body) if the connection turned out dead."""
        if self.eof or self.buffer or self.sock.fileno() < 0:
            return False
        if not probe:
            return True
        try:
            peeked = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True  # nothing to read: open and idle
        except OSError:
            return False
        return bool(peeked)  # b"": closed; bytes: unasked-for data, not ours to reuse

    def send_nowait(self, data: bytes) -> memoryview | None:
        """Send what the kernel takes at once; the rest, if any, for :meth:`send_rest`."""
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        return memoryview(data)[sent:] if sent < len(data) else None

    async def send_rest(self, rest: memoryview) -> None:
        await self.loop.sock_sendall(self.sock, rest)

    async def send(self, data: bytes) -> None:
        rest = self.send_nowait(data)
        if rest is not None:
            await self.send_rest(rest)

    async def fill(self) -> bool:
        """Wait for more in the buffer; False once the stream ended with nothing new."""
        if self.eof:
            return False
        if not self._reading:  # the caller needs more than the high water mark holds
            self._reading = True
            self.loop.add_reader(self._fd, self._readable)
        before = len(self.buffer)
        self._waiter = self.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        return len(self.buffer) > before or not self.eof

    def _take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        if not self._reading:
            self._consumed()
        return data

    async def read_until(self, separator: bytes, limit: int) -> bytes:
        start = 0
        while (index := self.buffer.find(separator, start)) < 0:
            if len(self.buffer) > limit:
                raise ValueError("line too long")
            start = max(0, len(self.buffer) - len(separator) + 1)
            if not await self.fill():
                raise asyncio.IncompleteReadError(bytes(self.buffer), None)
        return self._take(index + len(separator))

    async def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not await self.fill():
                raise asyncio.IncompleteReadError(bytes(self.buffer), size)
        return self._take(size)

    async def read_some(self, most: int) -> bytes:
        while not self.buffer:
            if not await self.fill():
                return b""
        return self._take(most)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nothing to undo
            self._pause()
        self.eof = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
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
            connection, reused = await self._connection(
                timeouts.get("connect"), probe=not replayable
            )
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

    async def exchange(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, float | None],
    ) -> httpx.Response:
        """One request with a bytes body, its answer read to the end.

        ``target`` is the path and query, already percent-encoded; ``headers`` go as they
        are, followed by Host and, with a body, Content-Length. A connection the daemon
        closed while idle is retried once, as in :meth:`handle_async_request`.
        """
        lines = [b"%s %s HTTP/1.1\r\nHost: localhost" % (method.encode(), target.encode())]
        lines.extend(b"%s: %s" % header for header in headers)
        if body or method not in ("GET", "HEAD", "DELETE"):
            lines.append(b"Content-Length: %d" % len(body))
        data = b"\r\n".join(lines) + b"\r\n\r\n" + body
        for attempt in range(2):
            connection, reused = await self._connection(timeouts.get("connect"), probe=False)
            try:
                return await self._exchange_bytes(connection, method, data, timeouts)
            except _Stale:
                connection.close()
                if not reused or attempt:
                    raise httpx.RemoteProtocolError(
                        "the daemon closed the connection without answering"
                    ) from None
            except BaseException:
                connection.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange_bytes(
        self,
        connection: _Socket,
        method: str,
        data: bytes,
        timeouts: Mapping[str, float | None],
    ) -> httpx.Response:
        await _send(connection, data, timeouts.get("write"), None)
        # One timer for the head and a Content-Length body (the whole answer of a
        # non-streamed call arrives at once), not one per read: each costs ~5 µs.
        try:
            async with asyncio.timeout(timeouts.get("read")):
                status, reason, headers = await _head(connection, None)
                framing = _framing(method, status, headers)
                content = b""
                if framing.kind == "length" and framing.length:
                    content = await connection.read_exactly(framing.length)
        except TimeoutError:
            raise httpx.ReadTimeout("the daemon did not answer in time") from None
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError("the daemon closed the connection mid-answer") from None
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from None
        if framing.kind == "length":
            self._release(connection, not framing.close)
        else:  # chunked or until close: rare from the daemon, read as a stream would be
            stream = _ResponseStream(self, connection, framing, timeouts.get("read"), None)
            content = b"".join([chunk async for chunk in stream])
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": reason}
        return httpx.Response(status, headers=headers, content=content, extensions=extensions)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def _connection(self, limit: float | None, *, probe: bool) -> tuple[_Socket, bool]:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(probe=probe):
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
        if isinstance(request.stream, httpx.ByteStream):
            await _send(connection, head + b"".join(request.stream), timeouts.get("write"), request)
        else:
            try:
                async with asyncio.timeout(timeouts.get("write")):
                    await self._send_streamed(connection, head, request)
            except TimeoutError:
                raise httpx.WriteTimeout(
                    "writing to the daemon timed out", request=request
                ) from None
            except ConnectionError:
                pass  # an early answer or a closed idle connection: see _send
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


async def _send(
    connection: _Socket, data: bytes, limit: float | None, request: httpx.Request | None
) -> None:
    try:
        rest = connection.send_nowait(data)
        if rest is not None:  # the timer only when the kernel did not take it all at once
            async with asyncio.timeout(limit):
                await connection.send_rest(rest)
    except TimeoutError:
        raise httpx.WriteTimeout("writing to the daemon timed out", request=request) from None
    except ConnectionError:
        # The daemon answered early (413 before the whole upload) and stopped reading, or
        # closed an idle connection: reading the head tells which (an answer or _Stale).
        pass


def _protocol_error(message: str, request: httpx.Request | None) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(message, request=request)


def _request_head(request: httpx.Request) -> bytes:
    target = request.url.raw_path
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), target)]
    lines.extend(b"%s: %s" % (name, value) for name, value in request.headers.raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _read_head(
    connection: _Socket, limit: float | None, request: httpx.Request | None
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    try:
        async with asyncio.timeout(limit):
            return await _head(connection, request)
    except TimeoutError:
        raise httpx.ReadTimeout("the daemon did not answer in time", request=request) from None


async def _head(
    connection: _Socket, request: httpx.Request | None
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, reason and headers of the answer (after any informational 1xx)."""
    for _ in range(10):
        try:
            raw = await connection.read_until(b"\r\n\r\n", MAX_HEAD)
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
        request: httpx.Request | None,
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
