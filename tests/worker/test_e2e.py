"""Daemon ↔ Worker relay (wrangler dev) ↔ the Python reference phone: pair with the code,
run a command in a shell, revoke and be refused — the path a user takes, once."""

from __future__ import annotations

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.client.phone import PairingFailed, pair_phone
from loopsy.client.tunnel import TunnelConnection
from loopsy.protocol.errors import Unauthorized
from loopsy.protocol.stream import Output

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.slow]


async def test_pair_shell_and_revoke_through_the_worker(
    client: LoopsyClient, worker_url: str
) -> None:
    await client.relay.configure(worker_url)
    with anyio.fail_after(30):
        while not (await client.relay.status()).connected:
            await anyio.sleep(0.05)
    offer = await client.phones.pair(ttl=120)
    assert offer.url.startswith(worker_url + "/app#pair=1.")
    identity = await pair_phone(offer.url, offer.code, name="worker phone")

    async with LoopsyClient(TunnelConnection(identity)) as phone:
        info = await phone.sessions.create(argv=["sh"], cols=100, rows=30, name="via-worker")
        text = b""
        async with phone.sessions.attach(info.id, offset=0) as stream:
            await stream.send_input("echo $((6 * 7))-worker\r")
            with anyio.fail_after(30):
                async for frame in stream:
                    if isinstance(frame, Output):
                        text += frame.data
                        if b"42-worker" in text:
                            break
        assert b"42-worker" in text
        await phone.sessions.kill(info.id)

        await client.phones.revoke(identity.phone_id)
        tunnel = phone.connection.tunnel  # type: ignore[attr-defined]
        with anyio.fail_after(30):
            while tunnel.connected:
                await anyio.sleep(0.02)
        with pytest.raises(Unauthorized):
            await phone.status()

    with pytest.raises(PairingFailed):  # the token was single-use
        await pair_phone(offer.url, offer.code, name="again")
