"""The phone's side of the tunnel: a :class:`~loopsy.client.connection.Connection` that
reaches the daemon through the relay, end to end encrypted, so the same ``LoopsyClient``
API works from the reference phone.

One relay WebSocket and one channel carry every request and WebSocket of the client; they
are opened on first use and again after a drop (relay restart, network loss, the daemon's
link going away), each time with a fresh KK handshake. Streams that were open when the
link dropped fail with ``ConnectionClosedError``; the caller resumes (sessions by offset).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from loopsy.client.connection import API_PREFIX, WebSocketStream
from loopsy.client.phone import PhoneIdentity
from loopsy.client.phone_link import PhoneTunnel, Stream
from loopsy.protocol import tunnel
from loopsy.protocol.errors import api_error_from
from loopsy.protocol.tunnel import Frame, Kind

CHUNK = 64 * 1024


class TunnelTransport(httpx.AsyncBaseTransport):
    def __init__(self, tunnel_: PhoneTunnel) -> None:
        self.tunnel = tunnel_

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode("ascii")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        headers = [(k, v) for k, v in headers if k.lower() not in ("host", "connection")]
        head = tunnel.RequestHead(request.method, target, headers).frame(0)
        try:
            stream = await self.tunnel.open_stream(head)
            body = request.content if hasattr(request, "_content") else await request.aread()
            for start in range(0, len(body), CHUNK):
                await self.tunnel.send_counted(stream, Kind.DATA, body[start : start + CHUNK])
            await self.tunnel.send([Frame(Kind.END, stream.ident)])
            kind, payload = await stream.next()
        except ConnectionClosed as exc:
            raise httpx.ConnectError(f"tunnel lost: {exc}") from None
        if kind == Kind.RESET:
            self.tunnel.close_stream(stream)
            code, reason = tunnel.decode_close(payload)
            if not 400 <= code <= 599:
                raise httpx.RemoteProtocolError(f"the daemon reset the request ({code} {reason})")
            # Refused before any answer (e.g. 429, too many streams): an ordinary error reply.
            refusal = {"error": {"code": "", "message": reason or f"HTTP {code}"}}
            return httpx.Response(code, json=refusal, request=request)
        response = tunnel.ResponseHead.decode(bytes(payload))
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_Body(self.tunnel, stream),
            request=request,
        )

    async def aclose(self) -> None:
        """The client is closed: so is its relay connection (the daemon sees the phone go)."""
        await self.tunnel.aclose()


class _Body(httpx.AsyncByteStream):
    def __init__(self, tunnel_: PhoneTunnel, stream: Stream) -> None:
        self.tunnel = tunnel_
        self.stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                kind, payload = await self.stream.next()
                if kind == Kind.DATA:
                    self.tunnel.consumed(self.stream.ident, len(payload))
                    yield bytes(payload)
                elif kind == Kind.END:
                    return
                elif kind == Kind.RESET:
                    raise httpx.RemoteProtocolError("the daemon reset the response")
        except ConnectionClosed as exc:
            raise httpx.ReadError(f"tunnel lost: {exc}") from None
        finally:
            self.tunnel.close_stream(self.stream)


class TunnelWebSocket:
    """A WebSocket to the daemon inside the tunnel (the same surface as ``websockets``)."""

    def __init__(self, tunnel_: PhoneTunnel, stream: Stream, subprotocol: str | None) -> None:
        self.tunnel = tunnel_
        self.stream = stream
        self.subprotocol = subprotocol
        self._closed: ConnectionClosed | None = None
        self._assembler = tunnel.MessageAssembler()

    async def send(self, message: bytes | str) -> None:
        if self._closed is not None:
            raise self._closed
        for fragment in tunnel.message_frames(self.stream.ident, message):
            await self.tunnel.send_counted(self.stream, Kind.WS_MESSAGE, fragment.payload)

    async def recv(self) -> bytes | str:
        if self._closed is not None:
            raise self._closed
        while True:
            try:
                kind, payload = await self.stream.next()
            except ConnectionClosed as exc:
                self._closed = exc
                raise
            if kind != Kind.WS_MESSAGE:
                break
            self.tunnel.consumed(self.stream.ident, len(payload))
            message = self._assembler.feed(payload)
            if message is not None:
                return message
        code, reason = tunnel.decode_close(payload)
        self.tunnel.close_stream(self.stream)
        cls = ConnectionClosedOK if code in (1000, 1001) else ConnectionClosedError
        self._closed = cls(Close(code, reason), None)
        raise self._closed

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed is None:
            self._closed = ConnectionClosedOK(None, Close(code, reason))
            with contextlib.suppress(ConnectionClosed):
                await self.tunnel.send(
                    [tunnel.close_frame(Kind.WS_CLOSE, self.stream.ident, code, reason)]
                )
            self.tunnel.close_stream(self.stream)

    def __aiter__(self) -> AsyncIterator[bytes | str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes | str]:
        with contextlib.suppress(ConnectionClosedOK):
            while True:
                yield await self.recv()


@dataclass
class TunnelConnection:
    """The daemon of ``identity``, through its relay."""

    identity: PhoneIdentity
    tunnel: PhoneTunnel = field(init=False)

    def __post_init__(self) -> None:
        self.tunnel = PhoneTunnel(self.identity)

    @property
    def base_url(self) -> str:
        return "http://loopsy.tunnel"

    @property
    def description(self) -> str:
        return f"{self.identity.node_name or 'daemon'} via {self.identity.relay_url}"

    def http_transport(self) -> httpx.AsyncBaseTransport:
        return TunnelTransport(self.tunnel)

    def auth_headers(self) -> dict[str, str]:
        return {}

    async def open_websocket(self, path: str, subprotocols: Sequence[str] = ()) -> WebSocketStream:
        head = tunnel.OpenHead(API_PREFIX + path, [], list(subprotocols)).frame(0)
        stream = await self.tunnel.open_stream(head)
        kind, payload = await stream.next()
        if kind == Kind.WS_ACCEPT:
            return TunnelWebSocket(self.tunnel, stream, tunnel.decode_accept(bytes(payload)))
        self.tunnel.close_stream(stream)
        code, reason = tunnel.decode_close(payload)
        if kind == Kind.RESET and 400 <= code <= 599:
            status = code
        else:
            status = code - 4000 if 4000 <= code < 5000 else 500
        raise api_error_from(
            status, {"error": {"code": "", "message": reason or f"refused ({code})"}}
        )
