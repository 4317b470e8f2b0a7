"""The peer registry through the API: add by address, names and ids, removal, and the
errors a user sees for each mistake."""

from __future__ import annotations

import pytest

from loopsy.client.peers import peer_client
from loopsy.protocol.errors import (
    BadRequest,
    Conflict,
    DaemonNotRunning,
    NotFound,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from tests.integration.mesh.conftest import StartNode, pair

pytestmark = pytest.mark.anyio


async def test_add_by_address_then_pair_upgrades_it(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    seen = await a.client.peers.add("127.0.0.1", b.mesh_port)
    assert (seen.id, seen.name, seen.paired, seen.source) == (b.id, "beta", False, "manual")
    assert seen.status == "online" and "messages" in seen.capabilities
    assert seen.fingerprint == b.services.mesh.certificate.fingerprint  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="not paired"):
        await peer_client(a.client, "beta")
    await pair(b, a)
    (peer,) = await a.client.peers.list()
    assert peer.paired and peer.source == "paired"
    # adding the address again keeps the pairing
    again = await a.client.peers.add("127.0.0.1", b.mesh_port)
    assert again.paired


@pytest.mark.parametrize("host", ["evil/../x", "a b", "-x", "user@host", "x?y"])
async def test_add_refuses_odd_hosts(start_node: StartNode, host: str) -> None:
    a = await start_node("alpha")
    with pytest.raises(BadRequest):
        await a.client.peers.add(host, 19533)
    assert await a.client.peers.list() == []


async def test_add_errors(start_node: StartNode) -> None:
    a = await start_node("alpha")
    with pytest.raises(BadRequest, match="this machine"):
        await a.client.peers.add("127.0.0.1", a.mesh_port)
    with pytest.raises(Unavailable, match="no Loopsy peer answers") as refused:
        await a.client.peers.add("127.0.0.1", 1)
    assert "--lan" in (refused.value.hint or "")
    # a plain-HTTP loopsy port is not a mesh port
    with pytest.raises(Unavailable):
        await a.client.peers.add("127.0.0.1", a.services.listening.tcp_port)
    with pytest.raises(ValidationFailed):
        await a.client.request("POST", "/peers", json_body={"host": "x", "port": 70000})
    with pytest.raises(ValidationFailed):
        await a.client.request("POST", "/peers", json_body={"host": "x" * 300})
    assert await a.client.peers.list() == []


async def test_names_ids_and_removal(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    c = await start_node("beta")  # a second machine with the same name
    await pair(a, b)
    await pair(a, c)
    with pytest.raises(Conflict, match="2 peers are named 'beta'"):
        await a.client.peers.get("beta")
    assert (await a.client.peers.get(c.id)).id == c.id
    with pytest.raises(NotFound, match="no peer named"):
        await a.client.peers.remove("gamma")
    removed = await a.client.peers.remove(b.id)
    assert removed.id == b.id
    assert [p.id for p in await a.client.peers.list()] == [c.id]
    assert (await a.client.peers.get("beta")).id == c.id  # unambiguous again
    # the removed peer's record of us still exists but its calls are refused
    async with await peer_client(b.client, "alpha") as remote:
        with pytest.raises(Unauthorized):
            await remote.status()
    (stale,) = await b.client.peers.list(refresh=True)
    assert stale.status == "offline" and "no longer paired" in (stale.last_error or "")


async def test_offline_peer_is_reported(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    await pair(a, b)
    a.services.store.execute("UPDATE mesh_peers SET port = 1 WHERE id = ?", (b.id,))
    info = await a.client.peers.get("beta")
    assert info.status == "offline" and info.last_error == "unreachable"
    async with await peer_client(a.client, "beta") as remote:
        with pytest.raises(DaemonNotRunning, match="peer beta"):
            await remote.status()
