"""A recording TCP proxy for WebSocket traffic: what a relay operator (or anyone on the
path) sees. Client→server frames are unmasked, so the recording holds the real payloads
of every WebSocket message in both directions, plus the raw HTTP heads."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field


def parse_frames(data: bytes) -> tuple[list[bytes], int]:
    """Complete WebSocket frames in ``data``: (unmasked payloads, bytes consumed)."""
    payloads, offset = [], 0
    while len(data) - offset >= 2:
        b1 = data[offset + 1]
        masked, length = b1 & 0x80, b1 & 0x7F
        pos = offset + 2
        if length == 126:
            if len(data) - pos < 2:
                break
            (length,) = struct.unpack(">H", data[pos : pos + 2])
            pos += 2
        elif length == 127:
            if len(data) - pos < 8:
                break
            (length,) = struct.unpack(">Q", data[pos : pos + 8])
            pos += 8
        key = b""
        if masked:
            if len(data) - pos < 4:
                break
            key, pos = data[pos : pos + 4], pos + 4
        if len(data) - pos < length:
            break
        payload = data[pos : pos + length]
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        payloads.append(payload)
        offset = pos + length
    return payloads, offset


@dataclass
class Direction:
    raw: bytearray = field(default_factory=bytearray)
    heads: list[bytes] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    _pending: bytearray = field(default_factory=bytearray)
    _upgraded: bool = False

    def feed(self, chunk: bytes) -> None:
        self.raw += chunk
        self._pending += chunk
        if not self._upgraded:
            end = self._pending.find(b"\r\n\r\n")
            if end < 0:
                return
            self.heads.append(bytes(self._pending[: end + 4]))
            del self._pending[: end + 4]
            self._upgraded = True
        payloads, used = parse_frames(bytes(self._pending))
        self.messages += payloads
        del self._pending[:used]


class Wiretap:
    """Listens on a free loopback port and forwards to ``target_port``, recording."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.to_server: list[Direction] = []
        self.to_client: list[Direction] = []
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()

    def hold(self) -> None:
        """Stop forwarding server→client bytes (a phone on a link that has stalled)."""
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        a, b = Direction(), Direction()
        self.to_server.append(a)
        self.to_client.append(b)
        await asyncio.gather(self._pipe(reader, up_writer, a), self._pipe(up_reader, writer, b))

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: Direction,
        gated: bool = False,
    ) -> None:
        try:
            while True:
                if gated:
                    await self._flowing.wait()
                chunk = await reader.read(65536)
                if not chunk:
                    break
                record.feed(chunk)
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    def all_messages(self) -> list[bytes]:
        return [m for d in (*self.to_server, *self.to_client) for m in d.messages]

    def all_raw(self) -> bytes:
        return b"".join(bytes(d.raw) for d in (*self.to_server, *self.to_client))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
