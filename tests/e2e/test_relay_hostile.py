"""The relay operator's view, and hostile phones: what the relay stores and forwards holds
no terminal plaintext and no secret; replays, stolen credentials, floods and malformed
frames are refused while everything else keeps working."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from loopsy.client import LoopsyClient
from loopsy.client.phone import PhoneIdentity, pair_phone
from loopsy.client.tunnel import TunnelConnection
from loopsy.daemon.services import Services
from loopsy.protocol import relay as wire
from loopsy.protocol.channel import Handshake
from loopsy.protocol.noise import private_key
from loopsy.protocol.pairing import code_psk, session_prologue
from loopsy.protocol.stream import Output
from tests.relay_process import RelayProcess
from tests.wiretap import Wiretap

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture
async def tap(relay: RelayProcess) -> AsyncIterator[Wiretap]:
    wiretap = Wiretap(relay.port)
    await wiretap.start()
    yield wiretap
    await wiretap.stop()


@dataclass
class World:
    phone: LoopsyClient
    identity: PhoneIdentity
    code: str
    token: bytes
    name: str
    marker: str
    session: str


def forms(secret: bytes | str) -> list[bytes]:
    raw = secret.encode() if isinstance(secret, str) else secret
    out = [raw, raw.hex().encode(), base64.urlsafe_b64encode(raw).rstrip(b"=")]
    out.append(base64.b64encode(raw).rstrip(b"="))
    return [f for f in out if len(f) >= 6]


def assert_absent(haystack: bytes, secrets_: dict[str, bytes | str], where: str) -> None:
    for label, secret in secrets_.items():
        for form in forms(secret):
            assert form not in haystack, f"{label} found in {where}"


async def wait_connected(client: LoopsyClient) -> None:
    with anyio.fail_after(20):
        while not (await client.relay.status()).connected:
            await anyio.sleep(0.05)


async def run_shell(phone: LoopsyClient, marker: str) -> str:
    info = await phone.sessions.create(argv=["sh"], cols=80, rows=24)
    seen = b""
    async with phone.sessions.attach(info.id, offset=0) as stream:
        await stream.send_input(f"echo {marker}-$((3 + 4))\r")
        with anyio.fail_after(20):
            async for frame in stream:
                if isinstance(frame, Output):
                    seen += frame.data
                    if f"{marker}-7".encode() in seen:
                        break
    return info.id


@pytest.fixture
async def world(client: LoopsyClient, tap: Wiretap) -> AsyncIterator[World]:
    await client.relay.configure(f"http://127.0.0.1:{tap.port}")
    await wait_connected(client)
    offer = await client.phones.pair()
    from loopsy.protocol.pairing import PairLink

    token = PairLink.parse(offer.url).token
    name = f"Phone-{secrets.token_hex(4)}"
    identity = await pair_phone(offer.url, offer.code, name=name)
    marker = f"MARK{secrets.token_hex(6)}"
    async with LoopsyClient(TunnelConnection(identity)) as phone:
        session = await run_shell(phone, marker)
        yield World(phone, identity, offer.code, token, name, marker, session)


async def test_relay_sees_no_plaintext_and_no_secret(
    daemon: Services, world: World, tap: Wiretap, relay: RelayProcess
) -> None:
    assert daemon.relay_link is not None
    registry = daemon.relay_link.registry
    device = registry.device_for(f"http://127.0.0.1:{tap.port}")
    assert device is not None
    daemon_private = registry.static_key().private_bytes_raw()
    e2e_secrets: dict[str, bytes | str] = {
        "terminal input": f"echo {world.marker}",
        "terminal output": f"{world.marker}-7",
        "marker": world.marker,
        "pairing code": f"loopsy pair code v1|{world.code}",
        "psk": code_psk(world.token, world.code),
        "phone name": world.name,
        "API key": daemon.config.current.auth.api_key,
        "daemon private key": daemon_private,
        "phone private key": world.identity.static_private,
        "phone relay credential": world.identity.credential,  # delivered end to end
    }
    messages = b"\n".join(tap.all_messages())
    assert len(tap.all_messages()) > 10 and len(messages) > 1000
    assert_absent(messages, e2e_secrets, "forwarded WebSocket messages")
    heads = b"".join(h for d in (*tap.to_server, *tap.to_client) for h in d.heads)
    assert_absent(heads, {k: v for k, v in e2e_secrets.items() if "credential" not in k}, "heads")

    relay.stop()  # flush the WAL into the database file, as an operator's copy would be
    stored = b"".join(
        p.read_bytes() for p in relay.data_dir.iterdir() if p.name.startswith("relay.db")
    )
    assert stored
    assert_absent(
        stored,
        {
            **e2e_secrets,
            "device secret": device.secret,
            "pair token": world.token,
        },
        "the relay's database",
    )


async def test_replayed_phone_traffic_is_refused(
    client: LoopsyClient, world: World, tap: Wiretap
) -> None:
    before = (await client.sessions.read(world.session, since=0)).data.count(world.marker)
    phone_conn = next(d for d in tap.to_server if d.heads and b"/v1/phone/connect" in d.heads[0])
    recorded = phone_conn.messages  # KK message 1, then the phone's channel frames
    assert len(recorded) >= 3
    ident = world.identity
    async with connect(
        f"ws://127.0.0.1:{tap.port}/v1/phone/connect",
        subprotocols=[
            Subprotocol(p) for p in wire.phone_protocols(ident.device_id, ident.relay_credential)
        ],
        compression=None,
    ) as attacker:
        await recv_online(attacker)
        await attacker.send(recorded[0])  # the KK message 1 the phone once sent
        reply = await attacker.recv()
        assert isinstance(reply, bytes)  # the daemon answers a fresh ephemeral...
        with contextlib.suppress(ConnectionClosed):  # the daemon may close mid-replay
            for message in recorded[1:]:
                await attacker.send(message)
        code = await closed_code(attacker)
    assert code == wire.Close.PROTOCOL  # ...but the recorded frames do not open under it
    after = (await client.sessions.read(world.session, since=0)).data.count(world.marker)
    assert after == before  # the replayed `echo` never ran again
    assert (await world.phone.status()).pid > 0  # the real phone is unaffected


async def test_stolen_relay_credential_without_the_phone_key(world: World, tap: Wiretap) -> None:
    ident = world.identity
    forged = Handshake.session(
        initiator=True,
        prologue=session_prologue(ident.device_id, ident.phone_id),
        static=private_key(os.urandom(32)),
        ephemeral=private_key(os.urandom(32)),
        remote_static=ident.daemon_public,
    )
    async with connect(
        f"ws://127.0.0.1:{tap.port}/v1/phone/connect",
        subprotocols=[
            Subprotocol(p) for p in wire.phone_protocols(ident.device_id, ident.relay_credential)
        ],
        compression=None,
    ) as attacker:
        await recv_online(attacker)
        await attacker.send(forged.write(b""))
        assert await closed_code(attacker) == wire.Close.UNAUTHORIZED


async def test_malformed_tunnel_frames_close_only_that_connection(world: World) -> None:
    tunnel = world.phone.connection.tunnel  # type: ignore[attr-defined]
    assert tunnel.connected
    channel, ws = tunnel._channel, tunnel._ws
    await ws.send(channel.seal(b"\xff\x00\x00\x00\x01\x00\x00\x00\x00"))  # unknown kind
    with anyio.fail_after(10):
        while tunnel.connected:
            await anyio.sleep(0.02)
    assert (await world.phone.status()).pid > 0  # reconnects with a fresh handshake
    assert tunnel.connects == 2
    channel, ws = tunnel._channel, tunnel._ws
    huge = b"\x07\x00\x00\x00\x63" + (300_000).to_bytes(4, "big") + b"\x00" * 200_000
    await ws.send(channel.seal(huge[:200_000]))  # a frame that claims more than it carries
    with anyio.fail_after(10):
        while tunnel.connected:
            await anyio.sleep(0.02)
    assert (await world.phone.status()).pid > 0


async def test_registration_and_credential_floods(relay: RelayProcess) -> None:
    limited = RelayProcess("--register-rate", "3")
    limited.start()
    try:
        async with httpx.AsyncClient(base_url=limited.url) as http:
            codes = [(await http.post("/v1/devices", json={})).status_code for _ in range(5)]
            assert codes == [201, 201, 201, 429, 429]
            refused = await http.post("/v1/devices", json={})
            assert int(refused.headers["retry-after"]) >= 1
            bad = {"Authorization": "Bearer 0123456789abcdef." + "A" * 43}
            statuses = [(await http.get("/v1/device", headers=bad)).status_code for _ in range(32)]
            assert statuses[:30] == [401] * 30 and statuses[-1] == 429
    finally:
        limited.cleanup()


async def recv_online(ws: object) -> None:
    import json

    with anyio.fail_after(10):
        message = await ws.recv()  # type: ignore[attr-defined]
    assert json.loads(message) == {"type": "device", "online": True}


async def closed_code(ws: object) -> int | None:
    with anyio.fail_after(10):
        try:
            for _ in range(100):
                await ws.recv()  # type: ignore[attr-defined]
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
    raise AssertionError("still open")


async def test_a_phone_cannot_speak_as_another_phone(
    client: LoopsyClient, world: World, tap: Wiretap
) -> None:
    """Phone A holds B's relay credential (a forged routing claim): the daemon runs KK
    against B's pinned key, which A's static key cannot satisfy."""
    offer = await client.phones.pair()
    other = await pair_phone(offer.url, offer.code, name="B")
    a = world.identity
    impostor = Handshake.session(
        initiator=True,
        prologue=session_prologue(other.device_id, other.phone_id),
        static=private_key(a.static_private),
        ephemeral=private_key(os.urandom(32)),
        remote_static=a.daemon_public,
    )
    async with connect(
        f"ws://127.0.0.1:{tap.port}/v1/phone/connect",
        subprotocols=[
            Subprotocol(p) for p in wire.phone_protocols(other.device_id, other.relay_credential)
        ],
        compression=None,
    ) as attacker:
        await recv_online(attacker)
        await attacker.send(impostor.write(b""))
        assert await closed_code(attacker) == wire.Close.UNAUTHORIZED
    assert {p.phone_id for p in await client.phones.list()} == {a.phone_id, other.phone_id}
