"""Two and three daemons pair with a code and call each other with their own credentials."""

from __future__ import annotations

import pytest

from loopsy.client.peers import peer_client
from tests.integration.mesh.conftest import Node, StartNode, pair

pytestmark = pytest.mark.anyio


async def test_two_daemons_pair_and_call_each_other(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    await pair(a, b)
    on_a = {p.id: p for p in await a.client.peers.list()}
    on_b = {p.id: p for p in await b.client.peers.list()}
    assert on_a[b.id].paired and on_a[b.id].name == "beta"
    assert on_b[a.id].paired and on_b[a.id].port == a.mesh_port
    async with await peer_client(b.client, "alpha") as remote:
        status = await remote.status()
    assert status.node_id == a.id
    async with await peer_client(a.client, b.id) as remote:
        assert (await remote.status()).node_id == b.id

    # each side holds a credential made for it, never the other's API key; the issuer
    # keeps only its hash
    def stored(node: Node) -> bytes:  # the database and its WAL, where fresh writes are
        db = node.services.home.database
        return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())

    for me, other in ((a, b), (b, a)):
        held = (await me.client.peers.endpoint(other.id)).credential
        assert held != other.services.config.current.auth.api_key
        assert held.encode() in stored(me)  # the check below can see what it looks for
        assert held.encode() not in stored(other)
        assert other.services.config.current.auth.api_key.encode() not in stored(me)
    refreshed = await a.client.peers.list(refresh=True)
    assert [p.status for p in refreshed] == ["online"]
    assert refreshed[0].latency_ms is not None


async def test_websockets_reach_a_peer_over_pinned_tls(start_node: StartNode) -> None:
    """Streaming routes (WebSockets) work through the peer connection too: wss with the
    pin and the peer credential."""
    from loopsy.client.execute import ExecCommand

    a, b = await start_node("alpha"), await start_node("beta")
    await pair(a, b)
    chunks: list[bytes] = []

    async def collect(stream: int, data: bytes) -> None:
        chunks.append(data)

    async with await peer_client(b.client, "alpha") as remote:
        done = await remote.execute.stream(
            ExecCommand(argv=["sh", "-c", "echo streamed-from-alpha"]), on_output=collect
        )
    assert done.exit_code == 0
    assert b"".join(chunks) == b"streamed-from-alpha\n"
    audit = a.services.audit.tail(50)
    assert any(
        r.get("path") == "/api/v1/execute/stream" and r.get("caller") == f"peer:{b.id}"
        for r in audit
    )


async def test_three_daemons_all_pair_and_call_each_other(start_node: StartNode) -> None:
    nodes = [await start_node(n) for n in ("alpha", "beta", "gamma")]
    a, b, c = nodes
    await pair(a, b)
    await pair(b, c)
    await pair(c, a)
    for me in nodes:
        others = [n for n in nodes if n is not me]
        listed = await me.client.peers.list(refresh=True)
        assert sorted(p.id for p in listed) == sorted(n.id for n in others)
        assert {p.status for p in listed} == {"online"}
        for other in others:
            async with await peer_client(me.client, other.name) as remote:
                assert (await remote.status()).node_id == other.id
                await remote.context.set(f"hello-from:{me.name}", "hi")
            await me.client.messages.send(other.name, f"{me.name} to {other.name}")
    for me in nodes:
        keys = [e.key for e in (await me.client.context.list("hello-from:")).entries]
        assert len(keys) == 2 and f"hello-from:{me.name}" not in keys
        inbox = await me.client.messages.inbox()
        assert sorted(m.envelope.from_ for m in inbox) == sorted(n.id for n in nodes if n is not me)
    # each credential is for one pair only: beta's credential for alpha is not gamma's
    assert a.services.mesh is not None and c.services.mesh is not None
    b_on_a = (await b.client.peers.endpoint("alpha")).credential
    assert a.services.mesh.registry.peer_for_token(b_on_a) == b.id
    assert c.services.mesh.registry.peer_for_token(b_on_a) is None
