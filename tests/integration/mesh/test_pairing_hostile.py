"""Pairing under attack: wrong codes, rejected codes, replays, strangers, malformed steps."""

from __future__ import annotations

import secrets

import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.client.tls_connection import PinnedTlsConnection
from loopsy.protocol.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from loopsy.protocol.peer_pairing import Initiator, b64e
from loopsy.protocol.tls_pin import unverified_context
from tests.integration.mesh.conftest import Node, StartNode, pair

pytestmark = pytest.mark.anyio


def mesh_http(node: Node) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{node.mesh_port}/api/v1", verify=unverified_context()
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_wrong_codes_burn_the_attempt_and_pair_nothing(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    await a.client.peers.pairing_listen(60)
    await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
    code = (await a.client.peers.pairing_status()).code
    assert code is not None
    for left in (2, 1):
        with pytest.raises(Forbidden, match=f"{left} attempt"):
            await b.client.peers.pairing_verify(wrong(code))
    with pytest.raises(Forbidden, match="too many wrong codes"):
        await b.client.peers.pairing_verify(wrong(code))
    # burnt: even the right code is now refused, and A dropped the attempt
    with pytest.raises(Conflict):
        await b.client.peers.pairing_verify(code)
    shown = await a.client.peers.pairing_status()
    assert shown.state == "waiting" and "gave up" in (shown.error or "")
    assert await a.client.peers.list() == [] and await b.client.peers.list() == []


async def test_rejected_code_refuses_the_grant(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    await a.client.peers.pairing_listen(60)
    await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
    code = (await a.client.peers.pairing_status()).code
    await a.client.peers.pairing_decide(False)
    with pytest.raises(Forbidden, match="rejected on the waiting machine"):
        await b.client.peers.pairing_verify(code)
    assert await a.client.peers.list() == [] and await b.client.peers.list() == []


async def test_three_rejections_close_the_window(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    await a.client.peers.pairing_listen(60)
    for _ in range(3):
        await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
        await a.client.peers.pairing_decide(False)
    assert (await a.client.peers.pairing_status()).state == "failed"
    with pytest.raises(NotFound, match="not waiting"):
        await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)


async def test_no_window_no_pairing_and_one_attempt_at_a_time(start_node: StartNode) -> None:
    a, b, c = await start_node("alpha"), await start_node("beta"), await start_node("gamma")
    with pytest.raises(NotFound, match=f"{a.mesh_port} says: not waiting"):
        await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
    await a.client.peers.pairing_listen(60)
    await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
    with pytest.raises(Conflict, match="in progress"):
        await c.client.peers.pairing_connect("127.0.0.1", a.mesh_port)


async def test_replayed_pairing_messages_are_refused(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    captured: list[tuple[str, dict[str, object]]] = []
    await a.client.peers.pairing_listen(60)
    # run the initiator by hand, recording every request, then replay them all
    init = Initiator("mallory-node", secrets.token_bytes(32), secrets.token_bytes(32))
    async with mesh_http(a) as http:
        commit = {"node_id": "mallory-node", "name": "mallory", "commitment": init.commit()}
        answer = (await http.post("/pair/commit", json=commit)).json()
        init.receive_answer(
            answer["pair_id"], answer["node_id"], answer["public_key"], answer["nonce"]
        )
        reveal = {"pair_id": answer["pair_id"], **init.reveal()}
        assert (await http.post("/pair/reveal", json=reveal)).status_code == 200
        captured += [("/pair/commit", commit), ("/pair/reveal", reveal)]
        # replaying the reveal to the same attempt: out of order, refused
        again = await http.post("/pair/reveal", json=reveal)
        assert again.status_code == 400
        await a.client.peers.pairing_decide(False)
        # after the rejection, the old attempt's steps lead nowhere
        for url, body in captured[1:]:
            assert (await http.post(url, json=body)).status_code == 403
        # a replayed commitment starts a fresh attempt with fresh keys: the old reveal (and
        # so the old code and grant keys) does not fit it
        fresh = (await http.post("/pair/commit", json=commit)).json()
        assert fresh["pair_id"] != answer["pair_id"]
        assert fresh["public_key"] != answer["public_key"]
        stale = {**reveal, "pair_id": fresh["pair_id"]}
        assert (await http.post("/pair/reveal", json=stale)).status_code == 200  # same key...
        # ...but a finish sealed under the old transcript does not open
        init.accept()
        sealed = init.seal_grant({"node_id": "mallory-node"})
        finish = await http.post(
            "/pair/finish", json={"pair_id": fresh["pair_id"], "sealed": sealed}
        )
        assert finish.status_code == 403
    assert await a.client.peers.list() == []
    del b


async def test_finish_replayed_after_pairing_is_refused(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    await pair(a, b)
    async with mesh_http(a) as http:
        response = await http.post("/pair/finish", json={"pair_id": "0" * 32, "sealed": "AA"})
    assert response.status_code == 404
    assert [p.id for p in await a.client.peers.list()] == [b.id]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/pair/commit", {"node_id": "x", "name": "n", "commitment": "not base64 !!"}),
        ("/pair/commit", {"node_id": "../../etc", "name": "n", "commitment": "AA"}),
        ("/pair/commit", {"node_id": "x", "name": "n"}),
        ("/pair/commit", {"node_id": "x", "name": "n", "commitment": b64e(b"1" * 32), "x": 1}),
        ("/pair/reveal", {"pair_id": "p", "public_key": "AA", "nonce": "AA"}),
        ("/pair/finish", {"pair_id": "p", "sealed": "x" * 70000}),
    ],
)
async def test_malformed_pairing_steps(
    start_node: StartNode, url: str, body: dict[str, object]
) -> None:
    a = await start_node("alpha")
    await a.client.peers.pairing_listen(60)
    async with mesh_http(a) as http:
        response = await http.post(url, json=body)
        garbage = await http.post(url, content=b"\xff{", headers={"content-type": "text/plain"})
    assert response.status_code in (400, 404, 422)
    assert "error" in response.json()
    assert garbage.status_code == 400
    assert (await a.client.peers.pairing_status()).state in ("waiting", "committed")


async def test_pairing_routes_only_on_the_mesh_port(start_node: StartNode) -> None:
    a = await start_node("alpha")
    await a.client.peers.pairing_listen(60)
    async with httpx.AsyncClient() as http:
        url = f"http://127.0.0.1:{a.services.listening.tcp_port}/api/v1/pair/commit"
        response = await http.post(url, json={"node_id": "x", "name": "n", "commitment": "AA"})
    assert response.status_code == 404


async def test_stranger_with_made_up_credential(start_node: StartNode) -> None:
    a = await start_node("alpha")
    cert = a.services.mesh.certificate.cert_pem  # type: ignore[union-attr]
    stranger = LoopsyClient(PinnedTlsConnection("127.0.0.1", a.mesh_port, "x" * 43, cert))
    async with stranger:
        with pytest.raises(Unauthorized):
            await stranger.status()
        assert (await stranger.health()).ok  # the open route still answers


async def test_peer_may_not_drive_pairing_or_the_registry(start_node: StartNode) -> None:
    from loopsy.client.peers import peer_client

    a, b = await start_node("alpha"), await start_node("beta")
    await pair(a, b)
    async with await peer_client(b.client, "alpha") as remote:
        for call in (
            remote.peers.list(),
            remote.peers.endpoint(b.id),
            remote.peers.remove(b.id),
            remote.peers.pairing_listen(10),
        ):
            with pytest.raises(Forbidden):
                await call
    assert [p.id for p in await a.client.peers.list()] == [b.id]


async def test_pinned_certificate_protects_calls(start_node: StartNode) -> None:
    """A node pretending to be a paired peer at its address fails the TLS pin."""
    from loopsy.client.peers import peer_client

    a, b = await start_node("alpha"), await start_node("beta")
    c = await start_node("gamma")
    await pair(a, b)
    b.services.store.execute("UPDATE mesh_peers SET port = ? WHERE id = ?", (c.mesh_port, a.id))
    async with await peer_client(b.client, "alpha") as remote:
        with pytest.raises(Exception, match=r"(?i)certificate|ssl|no loopsy daemon"):
            await remote.status()
    (info,) = await b.client.peers.list(refresh=True)
    assert info.status == "offline" and "certificate" in (info.last_error or "")


async def test_a_window_takes_five_attempts_at_most(start_node: StartNode) -> None:
    a = await start_node("alpha")
    await a.client.peers.pairing_listen(60)
    async with mesh_http(a) as http:
        for n in range(5):
            init = Initiator(f"flood-{n}", secrets.token_bytes(32), secrets.token_bytes(32))
            body = {"node_id": f"flood-{n}", "name": "flood", "commitment": init.commit()}
            answer = await http.post("/pair/commit", json=body)
            assert answer.status_code == 200
            abort = await http.post("/pair/abort", json={"pair_id": answer.json()["pair_id"]})
            assert abort.status_code == 200
        init = Initiator("flood-5", secrets.token_bytes(32), secrets.token_bytes(32))
        body = {"node_id": "flood-5", "name": "flood", "commitment": init.commit()}
        refused = await http.post("/pair/commit", json=body)
    assert refused.status_code == 403 and "too many" in refused.json()["error"]["message"]
    assert (await a.client.peers.pairing_status()).state == "failed"


async def test_a_yes_to_an_ended_attempt_does_not_accept_the_next(start_node: StartNode) -> None:
    """A's user answers about the code on their screen: if that attempt ended meanwhile (B
    gave up) and another machine's took its place, the answer must not accept that one."""
    a, b = await start_node("alpha"), await start_node("beta")
    mallory = await start_node("mallory")
    await a.client.peers.pairing_listen(60)
    await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
    shown = (await a.client.peers.pairing_status()).code
    assert shown is not None
    with pytest.raises(Forbidden, match="rejected"):
        await b.client.peers.pairing_verify(None, accept=False)  # B gives up
    await mallory.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
    now = await a.client.peers.pairing_status()
    assert now.state == "code_ready" and now.peer_name == "mallory" and now.code != shown
    with pytest.raises(Conflict, match="attempt that has ended"):
        await a.client.peers.pairing_decide(True, shown)
    assert (await a.client.peers.pairing_status()).state == "code_ready"  # nothing decided
    await a.client.peers.pairing_decide(False, now.code)
    assert await a.client.peers.list() == []


async def test_a_machine_without_its_peer_listener_cannot_start_a_pairing(
    start_node: StartNode,
) -> None:
    """Its peer would have nowhere to call it back (it used to fail late, as a 500)."""
    a, b = await start_node("alpha"), await start_node("beta", listen=False)
    await a.client.peers.pairing_listen(60)
    with pytest.raises(Conflict, match="does not listen for peers") as refused:
        await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
    assert "--lan" in (refused.value.hint or "")
    assert (await a.client.peers.pairing_status()).state == "waiting"  # A was never asked


@pytest.mark.parametrize("code", ["12345", "1234567", "12345é", "x" * 10_000])
async def test_a_decision_with_a_malformed_code_is_refused_clearly(
    start_node: StartNode, code: str
) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    await a.client.peers.pairing_listen(60)
    await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
    with pytest.raises(ValidationFailed):
        await a.client.peers.pairing_decide(True, code)
    assert (await a.client.peers.pairing_status()).state == "code_ready"  # nothing decided


async def test_pairing_with_a_port_that_speaks_plain_http_names_the_peer_port(
    start_node: StartNode,
) -> None:
    """The likeliest mistake: the other machine's API port (plain HTTP) for its peer port."""
    import asyncio

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    b = await start_node("beta")
    try:
        with pytest.raises(Unavailable, match="does not speak the peer protocol") as refused:
            await b.client.peers.pairing_connect("127.0.0.1", port)
        assert "19533" in (refused.value.hint or "")
    finally:
        server.close()
        await server.wait_closed()
