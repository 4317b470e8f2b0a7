"""The reference phone through a real relay process to the daemon, end to end."""

from __future__ import annotations

import re
from typing import Any

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.client.phone import PairingFailed, pair_phone
from loopsy.client.tunnel import TunnelConnection
from loopsy.daemon.services import Services
from loopsy.protocol.errors import Forbidden, Unauthorized
from loopsy.protocol.stream import Output, Snapshot
from tests.relay_process import RelayProcess

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def wait_connected(client: LoopsyClient, timeout: float = 20) -> None:
    with anyio.fail_after(timeout):
        while not (await client.relay.status()).connected:
            await anyio.sleep(0.05)


async def test_pair_use_and_revoke(
    daemon: Services, client: LoopsyClient, relay: RelayProcess
) -> None:
    status = await client.relay.configure(relay.url)
    assert status.url == relay.url
    await wait_connected(client)
    offer = await client.phones.pair(ttl=120)
    assert offer.code not in offer.url and len(offer.code) == 6
    assert offer.url.startswith(relay.url + "/app#pair=1.")

    identity = await pair_phone(offer.url, offer.code, name="test phone")
    state = await client.phones.pair_state(offer.pair_id)
    assert state.state == "paired" and state.phone_id == identity.phone_id
    assert state.phone_name == "test phone"

    async with LoopsyClient(TunnelConnection(identity)) as phone:
        remote = await phone.status()
        assert remote.node_id == daemon.config.current.node.id
        phones = await client.phones.list()
        assert [(p.phone_id, p.name, p.connected) for p in phones] == [
            (identity.phone_id, "test phone", True)
        ]
        with pytest.raises(Forbidden):  # pairing more phones is for the machine itself
            await phone.phones.pair()

        await client.phones.revoke(identity.phone_id)
        assert await client.phones.list() == []
        tunnel = phone.connection.tunnel  # type: ignore[attr-defined]
        with anyio.fail_after(10):  # the open connection is dropped at once
            while tunnel.connected:
                await anyio.sleep(0.02)
        with pytest.raises(Unauthorized):
            await phone.status()

    with pytest.raises(PairingFailed):  # the token was single-use
        await pair_phone(offer.url, offer.code, name="again")


async def test_wrong_codes_burn_the_token(client: LoopsyClient, relay: RelayProcess) -> None:
    await client.relay.configure(relay.url)
    await wait_connected(client)
    offer = await client.phones.pair()
    wrong = f"{(int(offer.code) + 1) % 1000000:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(PairingFailed, match=f"wrong code \\({left} left\\)"):
            await pair_phone(offer.url, wrong)
    with pytest.raises(PairingFailed, match="burned"):
        await pair_phone(offer.url, wrong)
    with pytest.raises(PairingFailed):  # even the right code is too late now
        await pair_phone(offer.url, offer.code)
    assert (await client.phones.pair_state(offer.pair_id)).state == "burned"
    assert await client.phones.list() == []


async def paired_phone(client: LoopsyClient, relay: RelayProcess) -> LoopsyClient:
    await client.relay.configure(relay.url)
    await wait_connected(client)
    offer = await client.phones.pair()
    identity = await pair_phone(offer.url, offer.code, name="shell phone")
    return LoopsyClient(TunnelConnection(identity))


async def test_shell_through_the_relay(client: LoopsyClient, relay: RelayProcess) -> None:
    async with await paired_phone(client, relay) as phone:
        info = await phone.sessions.create(argv=["sh"], cols=100, rows=30, name="phone-shell")
        assert [s.id for s in await phone.sessions.list()] == [info.id]
        text = b""
        async with phone.sessions.attach(info.id, offset=0) as stream:
            await stream.send_input("echo $((6 * 7))-marker\r")
            with anyio.fail_after(20):
                async for frame in stream:
                    if isinstance(frame, Output):
                        text += frame.data
                        if b"42-marker" in text:
                            break
        assert b"42-marker" in text
        await phone.sessions.kill(info.id)
        # A request and an answer larger than every flow-control window, both ways.
        value = "".join(chr(0x41 + i % 26) for i in range(1_000_000))
        await phone.context.set("big", value)
        assert (await phone.context.get("big")).value == value
        assert (await client.context.get("big")).value == value


@pytest.mark.slow
async def test_relay_restart_mid_output_loses_nothing(
    client: LoopsyClient, relay: RelayProcess
) -> None:
    lines = 400
    script = (
        f"read go; i=0; while [ $i -lt {lines} ]; do i=$((i+1)); echo L$i; sleep 0.01; done; "
        "echo END"
    )
    async with await paired_phone(client, relay) as phone:
        info = await phone.sessions.create(argv=["sh", "-c", script], cols=80, rows=24)
        received = b""
        restarted = False
        async with phone.sessions.attach(info.id, offset=0) as stream:
            await stream.send_input("go\r")
            with anyio.fail_after(90):
                async for frame in stream:
                    assert not isinstance(frame, Snapshot), "a gap was papered over by a snapshot"
                    if isinstance(frame, Output):
                        received += frame.data
                    if not restarted and b"L50\r\n" in received:
                        relay.restart()  # SIGKILL and start again on the same port and data
                        restarted = True
                    if b"END" in received:
                        break
            assert stream.reconnects >= 1
        numbers = [int(n) for n in re.findall(rb"L(\d+)\r\n", received)]
        assert numbers == list(range(1, lines + 1))
        assert phone.connection.tunnel.connects >= 2  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_a_stalled_phone_does_not_stall_another(
    client: LoopsyClient, relay: RelayProcess
) -> None:
    """Phone 1's link stops reading while its session pours out output; phone 2 keeps
    working, phone 1 is not dropped, and when its link flows again nothing is missing."""
    from tests.wiretap import Wiretap

    lines = 1_000_000  # ~7.9 MB: far more than every window and socket buffer on the way
    await client.relay.configure(relay.url)
    await wait_connected(client)
    offer1, offer2 = await client.phones.pair(), await client.phones.pair()
    stalled_id = await pair_phone(offer1.url, offer1.code, name="stalled")
    tap = Wiretap(relay.port)
    await tap.start()
    try:
        from dataclasses import replace

        stalled = LoopsyClient(
            TunnelConnection(replace(stalled_id, relay_url=f"http://127.0.0.1:{tap.port}"))
        )
        healthy = await paired_phone_from(offer2.url, offer2.code)
        async with stalled, healthy:
            info = await stalled.sessions.create(
                argv=["sh", "-c", f"read go; seq 1 {lines}; echo END"]
            )
            async with stalled.sessions.attach(info.id, offset=0) as pour:
                await pour.send_input("go\r")
                tap.hold()
                shell = await healthy.sessions.create(argv=["sh"])
                seen = b""
                async with healthy.sessions.attach(shell.id, offset=0) as stream:
                    await stream.send_input("echo still-$((40 + 2))\r")
                    with anyio.fail_after(20):
                        async for frame in stream:
                            if isinstance(frame, Output):
                                seen += frame.data
                                if b"still-42" in seen:
                                    break
                assert stalled.connection.tunnel.connected  # type: ignore[attr-defined]
                tap.release()
                received = b""
                with anyio.move_on_after(60) as scope:
                    async for frame in pour:
                        assert not isinstance(frame, Snapshot)
                        if isinstance(frame, Output):
                            received += frame.data
                        if b"END" in received:
                            break
                assert not scope.cancelled_caught, (
                    f"stalled after {len(received)} bytes {received[-100:]!r}"
                )
            numbers = [int(n) for n in re.findall(rb"(\d+)\r\n", received.split(b"go\r\n", 1)[-1])]
            assert numbers == list(range(1, lines + 1))
            assert pour.reconnects == 0
    finally:
        await tap.stop()


async def paired_phone_from(url: str, code: str) -> LoopsyClient:
    return LoopsyClient(TunnelConnection(await pair_phone(url, code, name="healthy")))


async def test_ping_watchdog_notices_a_dead_relay(
    client: LoopsyClient, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relay that stops answering (SIGSTOP: the TCP connection stays up, nothing moves)
    is noticed by the ping watchdog, and the link comes back when the relay does. The
    production interval is 20 s + 20 s timeout (< 60 s); here both are shortened."""
    import os
    import signal

    from loopsy.daemon.relay_link import link as link_module

    monkeypatch.setattr(link_module, "PING_INTERVAL", 0.3)
    monkeypatch.setattr(link_module, "PING_TIMEOUT", 0.3)
    await client.relay.configure(relay.url)
    await wait_connected(client)
    assert relay.proc is not None
    os.kill(relay.proc.pid, signal.SIGSTOP)
    try:
        with anyio.fail_after(15):
            while (await client.relay.status()).connected:
                await anyio.sleep(0.05)
    finally:
        os.kill(relay.proc.pid, signal.SIGCONT)
    status = await client.relay.status()
    assert status.last_error
    await wait_connected(client, timeout=40)


async def test_many_concurrent_requests_share_the_tunnel(
    client: LoopsyClient, relay: RelayProcess
) -> None:
    """More requests at once than the tunnel's stream limit: they queue, none fails."""
    async with await paired_phone(client, relay) as phone:
        results: list[int] = []

        async def one() -> None:
            results.append((await phone.status()).pid)

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(one)
        assert len(results) == 100 and len(set(results)) == 1


async def test_a_phone_that_leaves_is_published(client: LoopsyClient, relay: RelayProcess) -> None:
    """The dashboard's online count follows `phones` events: a phone that disconnects is
    one (`phone.left`), as its arrival is (`phone.seen`)."""
    phone = await paired_phone(client, relay)
    events: Any = client.events.stream(["phones"])
    assert (await events.__anext__())["type"] == "events.subscribed"

    async def next_event(kind: str) -> dict[str, Any]:
        with anyio.fail_after(20):
            async for event in events:
                if event.get("type") == kind:
                    return dict(event)
        raise AssertionError(f"the stream ended before {kind}")

    async with phone:
        await phone.status()
        seen = await next_event("phone.seen")
        assert (await client.relay.status()).phones_online == 1
    left = await next_event("phone.left")
    assert left["data"]["phone_id"] == seen["data"]["phone_id"]
    assert (await client.relay.status()).phones_online == 0
    await events.aclose()
