"""Agent messages between paired daemons: envelope, inbox/outbox/ack keys, idempotent ids,
and a `from` that only the daemon sets."""

from __future__ import annotations

import json

import httpx
import pytest

from loopsy.client.peers import peer_client
from loopsy.protocol.errors import Conflict, Forbidden, Unauthorized, ValidationFailed
from tests.integration.mesh.conftest import Node, StartNode, pair

pytestmark = pytest.mark.anyio


async def paired(start_node: StartNode) -> tuple[Node, Node]:
    a, b = await start_node("alpha"), await start_node("beta")
    await pair(a, b)
    return a, b


async def test_send_read_ack_round_trip(start_node: StartNode) -> None:
    a, b = await paired(start_node)
    sent = await a.client.messages.send("beta", {"task": "build"}, type="task", ttl=600)
    assert sent.state == "delivered"
    assert sent.envelope.from_ == a.id and sent.envelope.to == b.id

    inbox = await b.client.messages.inbox()
    assert [m.envelope.id for m in inbox] == [sent.envelope.id]
    got = inbox[0].envelope
    assert (got.from_, got.type, got.body, got.ttl) == (a.id, "task", {"task": "build"}, 600)
    # the keys of the protocol, readable with plain context calls
    raw = await b.client.context.get(f"inbox:{b.id}:{got.id}")
    assert json.loads(raw.value)["envelope"]["from"] == a.id
    assert (await a.client.context.get(f"outbox:{got.id}")).value

    acked = await b.client.messages.ack(got.id)
    assert acked.sender_notified
    assert await b.client.messages.inbox() == []
    assert len(await b.client.messages.inbox(include_acked=True)) == 1
    assert (await a.client.messages.outbox(got.id)).state == "acked"
    record = await a.client.messages.last_ack("beta")
    assert record.id == got.id and record.peer == b.id
    assert json.loads((await a.client.context.get(f"ack:{b.id}")).value)["id"] == got.id


async def test_same_id_twice_is_one_message(start_node: StartNode) -> None:
    a, b = await paired(start_node)
    first = await a.client.messages.send("beta", "hi", id="fixed-1")
    again = await a.client.messages.send("beta", "hi", id="fixed-1")
    assert first.envelope.ts == again.envelope.ts
    assert len(await b.client.messages.inbox()) == 1
    with pytest.raises(Conflict):
        await a.client.messages.send("beta", "something else", id="fixed-1")


async def test_from_cannot_be_forged(start_node: StartNode) -> None:
    a, b = await paired(start_node)
    async with await peer_client(a.client, "beta") as remote:
        # a body naming its own sender is refused outright
        forged = {
            "id": "x1",
            "to": b.id,
            "ts": 1.0,
            "type": "text",
            "body": "hi",
            "ttl": 60,
            "from": "someone-else",
        }
        with pytest.raises(ValidationFailed):
            await remote.request("POST", "/messages/inbox", json_body=forged)
        del forged["from"]
        await remote.request("POST", "/messages/inbox", json_body=forged)
        # the protocol's keys cannot be written around the daemon through the context API
        with pytest.raises(Forbidden):
            await remote.context.set(f"inbox:{b.id}:x2", '{"envelope": {"from": "me"}}')
        with pytest.raises(Forbidden):
            await remote.context.delete(f"inbox:{b.id}:x1")
        # nor acknowledged by anyone but the recipient
        note = await b.client.messages.send("self", "note to self")
        with pytest.raises(Forbidden):
            await remote.request("POST", "/messages/acks", json_body={"id": note.envelope.id})
    assert (await b.client.messages.outbox(note.envelope.id)).state == "delivered"
    from_peer = [m for m in await b.client.messages.inbox() if m.envelope.id == "x1"]
    assert [m.envelope.from_ for m in from_peer] == [a.id]


async def test_unreachable_peer_stays_pending_then_delivers(start_node: StartNode) -> None:
    a, b = await paired(start_node)
    c = await start_node("gamma")
    await pair(a, c)
    # point alpha's record of gamma at a closed port: delivery fails, the message waits
    assert a.services.mesh is not None
    a.services.store.execute("UPDATE mesh_peers SET port = 1 WHERE id = ?", (c.id,))
    sent = await a.client.messages.send("gamma", "later")
    assert sent.state == "pending" and sent.last_error
    a.services.store.execute("UPDATE mesh_peers SET port = ? WHERE id = ?", (c.mesh_port, c.id))
    assert a.services.messages is not None
    assert await a.services.messages.retry_pending() == 1
    assert (await a.client.messages.outbox(sent.envelope.id)).state == "delivered"
    assert [m.envelope.body for m in await c.client.messages.inbox()] == ["later"]
    assert await b.client.messages.inbox() == []


async def test_removed_peer_is_refused_at_once(start_node: StartNode) -> None:
    a, b = await paired(start_node)
    endpoint = await b.client.peers.endpoint("alpha")
    async with await peer_client(b.client, "alpha") as remote:
        assert (await remote.status()).node_id == a.id
        await a.client.peers.remove("beta")
        with pytest.raises(Unauthorized):
            await remote.status()
    # and the credential is worth nothing on the plain loopback port either
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"http://127.0.0.1:{a.services.listening.tcp_port}/api/v1/status",
            headers={"Authorization": f"Bearer {endpoint.credential}"},
        )
    assert response.status_code == 401
    sent = await b.client.messages.send("alpha", "after removal")
    assert sent.state == "failed" and "not paired here" in (sent.last_error or "")


@pytest.mark.parametrize(
    "body",
    [
        {"to": "beta", "body": "x" * (300 << 10)},  # over 256 KiB
        {"to": "beta", "body": "x", "id": "../../etc"},
        {"to": "beta", "body": "x", "id": "a" * 65},
        {"to": "beta", "body": "x", "type": "no spaces"},
        {"to": "beta", "body": "x", "ttl": 0},
        {"to": "beta", "body": "x", "ttl": 10**9},
        {"to": "beta", "body": "x", "from": "someone"},
        {"body": "x"},
    ],
)
async def test_send_refuses_bad_messages(start_node: StartNode, body: dict[str, object]) -> None:
    from loopsy.protocol.errors import ApiError

    a, b = await paired(start_node)
    with pytest.raises(ApiError) as refused:
        await a.client.request("POST", "/messages", json_body=body)
    assert refused.value.status in (413, 422)
    assert await b.client.messages.inbox() == []
    assert (await a.client.context.list("outbox:")).entries == []


async def test_message_routes_refuse_traversal_and_unknown_ids(start_node: StartNode) -> None:
    from loopsy.protocol.errors import ApiError, NotFound

    a, _ = await paired(start_node)
    for msg_id in ("..", "../ack", "x y", "%2e%2e"):
        with pytest.raises(ApiError) as refused:
            await a.client.messages.ack(msg_id)
        assert refused.value.status in (404, 422)
    with pytest.raises(NotFound):
        await a.client.messages.outbox("never-sent")
    with pytest.raises(NotFound, match="no peer named"):
        await a.client.messages.send("nobody", "hi")
    assert (await a.client.messages.last_ack("beta")).id is None


async def test_delivery_to_the_wrong_node_and_id_theft(start_node: StartNode) -> None:
    from loopsy.protocol.errors import BadRequest

    a, b = await paired(start_node)
    c = await start_node("gamma")
    await pair(c, b)
    first = await a.client.messages.send("beta", "from alpha", id="shared-id")
    assert first.state == "delivered"
    async with await peer_client(c.client, "beta") as remote:
        msg = {"id": "shared-id", "to": b.id, "ts": 1.0, "type": "text", "body": "evil", "ttl": 60}
        with pytest.raises(Conflict, match="another sender"):
            await remote.request("POST", "/messages/inbox", json_body=msg)
        with pytest.raises(BadRequest, match="not"):
            await remote.request("POST", "/messages/inbox", json_body={**msg, "to": a.id})
    (kept,) = await b.client.messages.inbox()
    assert (kept.envelope.body, kept.envelope.from_) == ("from alpha", a.id)


async def test_sending_is_rate_limited(start_node: StartNode) -> None:
    from loopsy.protocol.errors import RateLimited

    a, b = await paired(start_node)

    def low(config):  # type: ignore[no-untyped-def]
        config.rate_limits.context = 3
        return config

    a.services.config.update(low)
    for n in range(3):
        await a.client.messages.send("beta", n)
    with pytest.raises(RateLimited):
        await a.client.messages.send("beta", "one too many")
    assert len(await b.client.messages.inbox()) == 3
