"""A minimal relay client built from docs/PROTOCOL.md alone (no loopsy imports), used by
the conformance suite and the hostile tests."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import subprocess
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

SUBPROTOCOL = "loopsy.relay.1"
OPEN, DATA, CLOSE = 1, 2, 3


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def link_frame(kind: int, conn: int, body: bytes = b"") -> bytes:
    return struct.pack(">BI", kind, conn) + body


def parse_link(data: bytes) -> tuple[int, int, bytes]:
    kind, conn = struct.unpack(">BI", data[:5])
    return kind, conn, data[5:]


def wait_for_listening_line(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if "listening on" not in line:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"relay did not start: {line!r} {err}")
    return line.rsplit(" ", 1)[1].strip()


@dataclass
class Device:
    device_id: str
    credential: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}


class RelayClient:
    def __init__(self, base: str, registration_secret: str | None = None) -> None:
        self.base = base
        self.ws_base = base.replace("http", "ws", 1)
        self.registration_secret = registration_secret

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=10)

    async def register(self) -> Device:
        headers = {}
        if self.registration_secret:
            headers["X-Loopsy-Registration"] = self.registration_secret
        async with self.http() as h:
            r = await h.post("/v1/devices", json={}, headers=headers)
        assert r.status_code == 201, r.text
        body = r.json()
        return Device(body["device_id"], body["credential"])

    async def issue_pair(self, device: Device, ttl: float = 300) -> tuple[str, bytes]:
        pair_id, token = os.urandom(16).hex(), os.urandom(32)
        async with self.http() as h:
            r = await h.post(
                "/v1/pairs",
                json={"pair_id": pair_id, "token_hash": sha256_hex(token), "ttl": ttl},
                headers=device.auth,
            )
        assert r.status_code == 201, r.text
        return pair_id, token

    async def add_phone(self, device: Device, pair_id: str) -> tuple[str, bytes]:
        phone_id, secret = os.urandom(6).hex(), os.urandom(32)
        async with self.http() as h:
            r = await h.post(
                "/v1/phones",
                json={
                    "pair_id": pair_id,
                    "phone_id": phone_id,
                    "credential_hash": sha256_hex(secret),
                },
                headers=device.auth,
            )
        assert r.status_code == 201, r.text
        return phone_id, secret

    async def paired_phone(self, device: Device) -> tuple[str, bytes]:
        pair_id, _ = await self.issue_pair(device)
        return await self.add_phone(device, pair_id)

    async def ws(self, path: str, credential_entry: str | None, **kw: Any) -> ClientConnection:
        protocols = [SUBPROTOCOL] + ([credential_entry] if credential_entry else [])
        return await connect(
            f"{self.ws_base}{path}",
            subprotocols=[Subprotocol(p) for p in protocols],
            compression=None,
            open_timeout=10,
            max_size=1 << 22,
            **kw,
        )

    async def device_link(self, device: Device) -> ClientConnection:
        ws = await self.ws("/v1/device/connect", f"loopsy.device.{device.credential}")
        hello = json.loads(await recv(ws))
        assert hello == {"type": "hello", "device_id": device.device_id, "protocol": 1}
        return ws

    async def phone(self, device: Device, phone_id: str, secret: bytes) -> ClientConnection:
        entry = f"loopsy.phone.{device.device_id}.{phone_id}.{b64url(secret)}"
        return await self.ws("/v1/phone/connect", entry)

    async def pairing_phone(self, token: bytes) -> ClientConnection:
        return await self.ws("/v1/pair/connect", f"loopsy.pair.{b64url(token)}")


async def recv(ws: ClientConnection, timeout: float = 10) -> Any:
    with anyio.fail_after(timeout):
        return await ws.recv()


async def recv_control(ws: ClientConnection) -> dict[str, Any]:
    message = await recv(ws)
    assert isinstance(message, str), f"expected a control message, got {message!r}"
    value: dict[str, Any] = json.loads(message)
    return value


async def recv_link(ws: ClientConnection) -> tuple[int, int, bytes]:
    message = await recv(ws)
    assert isinstance(message, bytes), f"expected a link frame, got {message!r}"
    return parse_link(message)


async def closed_with(ws: ClientConnection, timeout: float = 10) -> int | None:
    """Read until the relay closes ``ws``; the close code it sent."""
    with anyio.fail_after(timeout):
        try:
            for _ in range(10_000):
                await ws.recv()
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
    raise AssertionError("the connection stayed open")


def refused_status(exc: BaseException) -> int:
    assert isinstance(exc, InvalidStatus), f"expected an HTTP refusal, got {exc!r}"
    return exc.response.status_code
