"""Relay scale and memory: one `loopsy relay serve` process holding many devices.

    python bench/relay.py                      # 200 devices x 2 sessions
    python bench/relay.py --devices 20 --quick

Each simulated device is what a daemon is to the relay: a device link (registered,
authenticated, one WebSocket) that answers the KK handshake of its phones and echoes
their channel frames (decrypt, re-encrypt), like a session echoing a keystroke. Each
device has two phones, each an end-to-end encrypted channel (one "live session"). All of
them run in this process (uvloop); the relay runs in its own process, as in production.

Measured: relay PSS with no device, with N idle device links, and with N devices x 2
phones connected (→ memory per idle device); then echo round trips (1 byte of terminal
input, through relay and channel, both ways) while every session also echoes once a
second in the background: p50 / p99 / max.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import httpx  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.typing import Subprotocol  # noqa: E402

from bench.pty_measure import percentile, pss_mb  # noqa: E402
from bench.pty_transports import free_port  # noqa: E402
from bench.relay_transport import start_relay, stop_relay  # noqa: E402
from loopsy.protocol import relay as wire  # noqa: E402
from loopsy.protocol.channel import Handshake, SecureChannel  # noqa: E402
from loopsy.protocol.noise import private_key, public_bytes  # noqa: E402
from loopsy.protocol.pairing import Credential, session_prologue  # noqa: E402


def protocols(values: list[str]) -> list[Subprotocol]:
    return [Subprotocol(v) for v in values]


class FakeDaemon:
    """A device link that answers KK handshakes and echoes channel frames."""

    def __init__(self, url: str, device: Credential) -> None:
        self.url = url
        self.device = device
        self.static = private_key(os.urandom(32))
        self.phones: dict[str, bytes] = {}  # phone id -> pinned public key
        self.conns: dict[int, tuple[str, SecureChannel | None]] = {}
        self.ws: ClientConnection | None = None

    async def connect(self) -> None:
        self.ws = await connect(
            self.url.replace("http", "ws", 1) + "/v1/device/connect",
            subprotocols=protocols(wire.device_protocols(self.device)),
            compression=None,
            ping_interval=None,
        )
        await self.ws.recv()  # hello
        asyncio.get_running_loop().create_task(self.serve())

    async def serve(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if not isinstance(message, bytes):
                continue
            frame = wire.LinkFrame.decode(message)
            if frame.type == wire.LinkType.OPEN:
                _, phone_id = wire.decode_open(frame.body)
                self.conns[frame.conn] = (phone_id, None)
            elif frame.type == wire.LinkType.DATA and frame.conn in self.conns:
                phone_id, channel = self.conns[frame.conn]
                if channel is None:
                    hs = Handshake.session(
                        initiator=False,
                        prologue=session_prologue(self.device.id, phone_id),
                        static=self.static,
                        ephemeral=private_key(os.urandom(32)),
                        remote_static=self.phones[phone_id],
                    )
                    hs.read(frame.body)
                    reply = hs.write(b"")
                    self.conns[frame.conn] = (phone_id, hs.channel())
                else:
                    reply = channel.seal(channel.open(frame.body))
                await self.ws.send(wire.LinkFrame(wire.LinkType.DATA, frame.conn, reply).encode())
            elif frame.type == wire.LinkType.CLOSE:
                self.conns.pop(frame.conn, None)


class FakePhone:
    def __init__(self, url: str, daemon: FakeDaemon, phone: Credential, static: bytes) -> None:
        self.url, self.daemon, self.phone, self.static = url, daemon, phone, static
        self.ws: ClientConnection | None = None
        self.channel: SecureChannel | None = None
        self.lock = asyncio.Lock()

    async def connect(self) -> None:
        self.ws = await connect(
            self.url.replace("http", "ws", 1) + "/v1/phone/connect",
            subprotocols=protocols(wire.phone_protocols(self.daemon.device.id, self.phone)),
            compression=None,
            ping_interval=None,
        )
        while True:
            message = await self.ws.recv()
            if isinstance(message, str) and '"online":true' in message:
                break
        hs = Handshake.session(
            initiator=True,
            prologue=session_prologue(self.daemon.device.id, self.phone.id),
            static=private_key(self.static),
            ephemeral=private_key(os.urandom(32)),
            remote_static=public_bytes(self.daemon.static),
        )
        await self.ws.send(hs.write(b""))
        reply = await self.ws.recv()
        assert isinstance(reply, bytes)
        hs.read(reply)
        self.channel = hs.channel()

    async def echo(self) -> float:
        assert self.ws is not None and self.channel is not None
        async with self.lock:
            start = time.perf_counter()
            await self.ws.send(self.channel.seal(b"x"))
            reply = await self.ws.recv()
            assert isinstance(reply, bytes) and self.channel.open(reply) == b"x"
            return (time.perf_counter() - start) * 1e3


async def make_device(http: httpx.AsyncClient, url: str) -> FakeDaemon:
    r = await http.post("/v1/devices", json={})
    r.raise_for_status()
    return FakeDaemon(url, Credential.parse(r.json()["credential"]))


async def add_phone(http: httpx.AsyncClient, url: str, daemon: FakeDaemon) -> FakePhone:
    auth = {"Authorization": f"Bearer {daemon.device}"}
    pair_id, token = os.urandom(16).hex(), os.urandom(32)
    r = await http.post(
        "/v1/pairs",
        json={"pair_id": pair_id, "token_hash": hashlib.sha256(token).hexdigest(), "ttl": 60},
        headers=auth,
    )
    r.raise_for_status()
    phone = Credential(os.urandom(6).hex(), os.urandom(32))
    body = {
        "pair_id": pair_id,
        "phone_id": phone.id,
        "credential_hash": hashlib.sha256(phone.secret).hexdigest(),
    }
    (await http.post("/v1/phones", json=body, headers=auth)).raise_for_status()
    static = os.urandom(32)
    daemon.phones[phone.id] = public_bytes(private_key(static))
    return FakePhone(url, daemon, phone, static)


async def gather_limited(coros: list, limit: int = 20) -> list:  # type: ignore[type-arg]
    gate = asyncio.Semaphore(limit)

    async def one(coro):  # type: ignore[no-untyped-def]
        async with gate:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


async def background(phones: list[FakePhone], stop: asyncio.Event) -> None:
    async def loop(phone: FakePhone) -> None:
        await asyncio.sleep(random.random())
        while not stop.is_set():
            await phone.echo()
            await asyncio.sleep(1.0)

    await asyncio.gather(*(loop(p) for p in phones))


async def run(args: argparse.Namespace, relay_pid: int, url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    await asyncio.sleep(0.5)
    out["pss_empty"] = pss_mb([relay_pid])
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        daemons = await gather_limited([make_device(http, url) for _ in range(args.devices)])
        await gather_limited([d.connect() for d in daemons])
        await asyncio.sleep(1.0)
        out["pss_devices"] = pss_mb([relay_pid])
        phones = await gather_limited(
            [add_phone(http, url, d) for d in daemons for _ in range(args.sessions)]
        )
    await gather_limited([p.connect() for p in phones])
    await asyncio.sleep(1.0)
    out["pss_sessions"] = pss_mb([relay_pid])
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(background(phones, stop))
    await asyncio.sleep(1.5)
    samples = []
    for _ in range(args.samples):
        samples.append(await random.choice(phones).echo())
        await asyncio.sleep(0.002)
    stop.set()
    await task
    samples = samples[10:]
    out["p50_ms"] = statistics.median(samples)
    out["p99_ms"] = percentile(samples, 0.99)
    out["max_ms"] = max(samples)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=2, help="phones per device")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.samples = 200
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        proc, url = start_relay(Path(tmp) / "relay", free_port())
        try:
            result = asyncio.run(run(args, proc.pid, url))
        finally:
            stop_relay(proc)
    per_device = (result["pss_devices"] - result["pss_empty"]) / args.devices * 1024
    per_session = (
        (result["pss_sessions"] - result["pss_devices"]) / (args.devices * args.sessions) * 1024
    )
    print(f"# relay scale: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"{args.devices} devices x {args.sessions} sessions, {args.samples} echo samples")
    print(f"relay PSS: empty {result['pss_empty']:.1f} MB, {args.devices} idle device links "
          f"{result['pss_devices']:.1f} MB, + {args.devices * args.sessions} phone channels "
          f"{result['pss_sessions']:.1f} MB")
    print(f"memory per idle device link: {per_device:.0f} KB; per phone connection: "
          f"{per_session:.0f} KB")
    print(f"echo through relay (1 byte, E2E both ways): p50 {result['p50_ms']:.2f} ms, "
          f"p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.2f} ms")


if __name__ == "__main__":
    main()
