"""A relay that no longer knows the daemon (its database wiped, as when a self-hosted relay
loses its data or a Worker's PAIR_TOKEN_SECRET is rotated): the link says so and stops
retrying, `loopsy relay status` and `loopsy doctor` give the fix, and `loopsy relay
configure <url>` registers again, after which phones pair again. A relay that wants a
registration secret the daemon lacks is handled the same way."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.client.phone import pair_phone
from loopsy.client.tunnel import TunnelConnection
from loopsy.daemon.relay_link import link as link_module
from loopsy.daemon.services import Services
from loopsy.protocol.errors import Unauthorized, Unavailable
from loopsy.protocol.phones import RelayStatus
from tests.conftest import Cli
from tests.relay_process import RelayProcess

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def wait_state(client: LoopsyClient, state: str, timeout: float = 20) -> RelayStatus:
    with anyio.fail_after(timeout):
        while (status := await client.relay.status()).state != state:
            await anyio.sleep(0.05)
    return status


async def next_relay_event(events: AsyncIterator[dict[str, Any]], kind: str) -> None:
    with anyio.fail_after(20):
        async for event in events:
            if event.get("type") == kind:
                return


def wipe(relay: RelayProcess) -> None:
    relay.stop()
    shutil.rmtree(relay.data_dir)
    relay.start()  # same port, empty database


async def run_cli(cli: Cli, *args: str) -> Any:
    # In a thread: the daemon under test answers from this test's event loop.
    return await anyio.to_thread.run_sync(lambda: cli(*args, check=False))


async def test_a_wiped_relay_is_reported_and_configure_registers_again(
    daemon: Services, client: LoopsyClient, relay: RelayProcess, cli: Cli
) -> None:
    await client.relay.configure(relay.url)
    first = await wait_state(client, "connected")
    offer = await client.phones.pair()
    identity = await pair_phone(offer.url, offer.code, name="before the wipe")
    async with LoopsyClient(TunnelConnection(identity)) as phone:
        await phone.status()

    events: Any = client.events.stream(["relay"])
    assert (await events.__anext__())["type"] == "events.subscribed"
    wipe(relay)
    await next_relay_event(events, "relay.rejected")
    await events.aclose()
    status = await wait_state(client, "rejected")
    assert not status.connected and status.device_id == first.device_id
    assert status.last_error is not None and "no longer knows this daemon" in status.last_error
    link = daemon.relay_link
    assert link is not None
    with anyio.fail_after(10):  # waiting now, and for the long recheck, not a backoff
        while link.retry_in is None:
            await anyio.sleep(0.02)
    assert link.retry_in == link_module.REJECTED_RECHECK
    with pytest.raises(Unavailable, match="no longer knows") as refused:
        await client.phones.pair()
    assert refused.value.hint is not None and "loopsy relay configure" in refused.value.hint

    shown = await run_cli(cli, "relay", "status")
    assert shown.returncode == 3
    assert "rejected" in shown.stdout and f"loopsy relay configure {relay.url}" in shown.stdout
    doctor = await run_cli(cli, "doctor")
    assert doctor.returncode != 0
    assert "no longer knows this daemon" in doctor.stdout + doctor.stderr
    assert "must then pair again" in doctor.stdout + doctor.stderr

    configured = await run_cli(cli, "relay", "configure", relay.url)
    assert configured.returncode == 0, configured.stderr
    assert "registers again as a new device" in configured.stdout
    assert "pair again" in configured.stdout
    again = await wait_state(client, "connected")
    assert again.device_id is not None and again.device_id != first.device_id
    assert again.last_error is None

    async with LoopsyClient(TunnelConnection(identity)) as phone:
        with pytest.raises(Unauthorized):  # the relay forgot this phone with the device
            await phone.status()
    offer = await client.phones.pair()
    identity = await pair_phone(offer.url, offer.code, name="after the wipe")
    async with LoopsyClient(TunnelConnection(identity)) as phone:
        assert (await phone.status()).node_id == daemon.config.current.node.id


async def test_a_relay_that_comes_back_is_used_again_without_registering(
    client: LoopsyClient, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon keeps the refused credential: a relay restored from a backup takes it
    again at the next recheck (every ten minutes; here a second)."""
    monkeypatch.setattr(link_module, "REJECTED_RECHECK", 1.0)
    await client.relay.configure(relay.url)
    first = await wait_state(client, "connected")
    backup = relay.root / "backup"
    relay.stop()
    shutil.copytree(relay.data_dir, backup)
    shutil.rmtree(relay.data_dir)
    relay.start()
    await wait_state(client, "rejected")
    relay.stop()
    shutil.rmtree(relay.data_dir)
    shutil.copytree(backup, relay.data_dir)
    relay.start()
    status = await wait_state(client, "connected")
    assert status.device_id == first.device_id


@pytest.fixture
def locked_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    secret_file = tmp_path_factory.mktemp("secret") / "registration"
    secret_file.write_text("open sesame, says the daemon\n")
    process = RelayProcess("--registration-secret-file", str(secret_file))
    process.start()
    yield process
    process.cleanup()


async def test_a_refused_registration_waits_for_the_secret(
    client: LoopsyClient, locked_relay: RelayProcess, cli: Cli
) -> None:
    await client.relay.configure(locked_relay.url)
    status = await wait_state(client, "rejected")
    assert status.device_id is None
    assert status.last_error is not None and "refused to register" in status.last_error
    shown = await run_cli(cli, "relay", "status")
    assert "LOOPSY_RELAY_REGISTRATION_SECRET" in shown.stdout
    cli.env["LOOPSY_RELAY_REGISTRATION_SECRET"] = "open sesame, says the daemon"
    try:
        configured = await run_cli(cli, "relay", "configure", locked_relay.url)
    finally:
        del cli.env["LOOPSY_RELAY_REGISTRATION_SECRET"]
    assert configured.returncode == 0, configured.stderr
    assert "registers again" not in configured.stdout  # there were no phones to lose
    status = await wait_state(client, "connected")
    assert status.device_id is not None and status.last_error is None
    assert os.environ.get("LOOPSY_RELAY_REGISTRATION_SECRET") is None


async def test_renew_registers_again_before_any_refusal(
    client: LoopsyClient, relay: RelayProcess
) -> None:
    """What `loopsy relay deploy --rotate-secret` asks for: the old credential is void."""
    await client.relay.configure(relay.url)
    first = await wait_state(client, "connected")
    await client.relay.configure(relay.url)  # the same relay again: nothing changes
    assert (await client.relay.status()).device_id == first.device_id
    await client.relay.configure(relay.url, renew=True)
    with anyio.fail_after(20):
        while (status := await client.relay.status()).device_id in (None, first.device_id) or (
            not status.connected
        ):
            await anyio.sleep(0.05)
    assert status.state == "connected"
