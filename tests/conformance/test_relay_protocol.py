"""Relay conformance: what any Loopsy relay must do, checked on the wire."""

from __future__ import annotations

import json
import os

import anyio
import pytest
from websockets.exceptions import InvalidStatus

from tests.conformance.relayclient import (
    CLOSE,
    DATA,
    OPEN,
    SUBPROTOCOL,
    RelayClient,
    b64url,
    closed_with,
    link_frame,
    recv,
    recv_control,
    recv_link,
    refused_status,
)

pytestmark = [pytest.mark.anyio, pytest.mark.conformance]


async def test_health(relay: RelayClient) -> None:
    async with relay.http() as h:
        r = await h.get("/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["service"] == "loopsy-relay" and body["protocol"] == 1


async def test_register_and_authenticate(relay: RelayClient) -> None:
    device = await relay.register()
    assert device.credential.startswith(device.device_id + ".")
    async with relay.http() as h:
        ok = await h.get("/v1/device", headers=device.auth)
        assert ok.status_code == 200 and ok.json()["device_id"] == device.device_id
        assert ok.json()["connected"] is False
        wrong = device.credential[:-4] + (
            "AAAA" if not device.credential.endswith("AAAA") else "BBBB"
        )
        for headers in ({}, {"Authorization": f"Bearer {wrong}"}, {"Authorization": "Basic x"}):
            r = await h.get("/v1/device", headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error"]["code"] == "unauthorized"


async def test_credentials_in_query_strings_are_refused(relay: RelayClient) -> None:
    device = await relay.register()
    async with relay.http() as h:
        r = await h.get("/v1/device", params={"token": device.credential})
    assert r.status_code == 400
    with pytest.raises(InvalidStatus) as exc:
        await relay.ws(f"/v1/device/connect?token={device.credential}", None)
    assert refused_status(exc.value) == 400


async def test_daemon_link_selects_only_the_protocol(relay: RelayClient) -> None:
    device = await relay.register()
    link = await relay.device_link(device)
    assert link.subprotocol == SUBPROTOCOL  # the credential is never echoed
    async with relay.http() as h:
        assert (await h.get("/v1/device", headers=device.auth)).json()["connected"] is True
    await link.close()


@pytest.mark.parametrize(
    "entry",
    [None, "loopsy.device.0123456789abcdef.AAAA", "loopsy.pair.AAAA", "garbage"],
)
async def test_bad_link_credentials_are_refused_before_upgrade(
    relay: RelayClient, entry: str | None
) -> None:
    with pytest.raises(InvalidStatus) as exc:
        await relay.ws("/v1/device/connect", entry)
    assert refused_status(exc.value) in (400, 401)


async def test_pairing_connection_round_trip(relay: RelayClient) -> None:
    device = await relay.register()
    link = await relay.device_link(device)
    pair_id, token = await relay.issue_pair(device)
    phone = await relay.pairing_phone(token)
    assert phone.subprotocol == SUBPROTOCOL
    kind, conn, body = await recv_link(link)
    assert kind == OPEN and json.loads(body) == {"kind": "pair", "pair_id": pair_id}
    assert await recv_control(phone) == {"type": "device", "online": True}
    await phone.send(b"\x00handshake message 1")
    assert await recv_link(link) == (DATA, conn, b"\x00handshake message 1")
    await link.send(link_frame(DATA, conn, b"handshake message 2"))
    assert await recv(phone) == b"handshake message 2"
    await link.send(link_frame(CLOSE, conn, (4403).to_bytes(2, "big") + b"wrong code (4 left)"))
    assert await closed_with(phone) == 4403
    await link.close()


async def test_pair_token_admits_five_connections(relay: RelayClient) -> None:
    device = await relay.register()
    _, token = await relay.issue_pair(device)
    for _ in range(5):
        ws = await relay.pairing_phone(token)
        await ws.close()
    with pytest.raises(InvalidStatus) as exc:
        await relay.pairing_phone(token)
    assert refused_status(exc.value) == 404


async def test_unknown_burned_and_used_pair_tokens(relay: RelayClient) -> None:
    device = await relay.register()
    with pytest.raises(InvalidStatus) as exc:
        await relay.pairing_phone(os.urandom(32))
    assert refused_status(exc.value) == 404
    pair_id, token = await relay.issue_pair(device)
    async with relay.http() as h:
        assert (await h.delete(f"/v1/pairs/{pair_id}", headers=device.auth)).status_code == 204
    with pytest.raises(InvalidStatus):
        await relay.pairing_phone(token)
    pair_id, token = await relay.issue_pair(device)
    await relay.add_phone(device, pair_id)
    with pytest.raises(InvalidStatus) as exc:
        await relay.pairing_phone(token)
    assert refused_status(exc.value) == 404
    async with relay.http() as h:  # a used pair cannot make a second phone
        r = await h.post(
            "/v1/phones",
            json={"pair_id": pair_id, "phone_id": "bbbbbbbbbbbb", "credential_hash": "0" * 64},
            headers=device.auth,
        )
    assert r.status_code == 404


async def test_pair_ttl_is_capped_and_expires(relay: RelayClient) -> None:
    device = await relay.register()
    async with relay.http() as h:
        r = await h.post(
            "/v1/pairs",
            json={"pair_id": os.urandom(16).hex(), "token_hash": "a" * 64, "ttl": 86400},
            headers=device.auth,
        )
    assert r.status_code == 201 and r.json()["ttl"] < 86400
    _, token = await relay.issue_pair(device, ttl=1)
    with anyio.fail_after(10):
        while True:
            try:
                ws = await relay.pairing_phone(token)
            except InvalidStatus as exc:
                assert refused_status(exc) == 404
                break
            await ws.close()
            await anyio.sleep(0.25)


@pytest.mark.parametrize(
    "body",
    [
        {"pair_id": "short", "token_hash": "a" * 64, "ttl": 60},
        {"pair_id": "a" * 32, "token_hash": "A" * 64, "ttl": 60},
        {"pair_id": "a" * 32, "token_hash": "a" * 64, "ttl": -1},
        {"pair_id": "a" * 32, "token_hash": "a" * 64, "ttl": "60"},
    ],
)
async def test_bad_pair_requests(relay: RelayClient, body: dict[str, object]) -> None:
    device = await relay.register()
    async with relay.http() as h:
        r = await h.post("/v1/pairs", json=body, headers=device.auth)
    assert r.status_code in (400, 422)


async def test_phone_connection_and_list(relay: RelayClient) -> None:
    device = await relay.register()
    phone_id, secret = await relay.paired_phone(device)
    phone = await relay.phone(device, phone_id, secret)
    assert phone.subprotocol == SUBPROTOCOL
    assert await recv_control(phone) == {"type": "device", "online": False}
    link = await relay.device_link(device)
    kind, conn, body = await recv_link(link)
    assert kind == OPEN and json.loads(body) == {"kind": "phone", "phone_id": phone_id}
    assert await recv_control(phone) == {"type": "device", "online": True}
    async with relay.http() as h:
        phones = (await h.get("/v1/phones", headers=device.auth)).json()["phones"]
    assert [(p["phone_id"], p["connected"]) for p in phones] == [(phone_id, True)]
    await phone.send(b"\x01" * 1000)
    assert await recv_link(link) == (DATA, conn, b"\x01" * 1000)
    await phone.close()
    assert await recv_link(link) == (CLOSE, conn, (1000).to_bytes(2, "big") + b"phone left")
    await link.close()


async def test_wrong_and_foreign_phone_credentials(relay: RelayClient) -> None:
    a, b = await relay.register(), await relay.register()
    phone_id, secret = await relay.paired_phone(a)
    for device_id, pid, sec in (
        (a.device_id, phone_id, os.urandom(32)),
        (b.device_id, phone_id, secret),  # a phone reaching for another device
        (a.device_id, "ffffffffffff", secret),
    ):
        with pytest.raises(InvalidStatus) as exc:
            await relay.ws("/v1/phone/connect", f"loopsy.phone.{device_id}.{pid}.{b64url(sec)}")
        assert refused_status(exc.value) == 401


async def test_revoke_drops_that_phone_only(relay: RelayClient) -> None:
    device = await relay.register()
    link = await relay.device_link(device)
    (p1, s1), (p2, s2) = await relay.paired_phone(device), await relay.paired_phone(device)
    phone1, phone2 = await relay.phone(device, p1, s1), await relay.phone(device, p2, s2)
    conns = {}
    for _ in range(2):
        _, conn, body = await recv_link(link)
        conns[json.loads(body)["phone_id"]] = conn
    async with relay.http() as h:
        assert (await h.delete(f"/v1/phones/{p1}", headers=device.auth)).status_code == 204
        assert (await h.delete(f"/v1/phones/{p1}", headers=device.auth)).status_code == 404
    assert await closed_with(phone1) == 4403
    with pytest.raises(InvalidStatus) as exc:
        await relay.phone(device, p1, s1)
    assert refused_status(exc.value) == 401
    await recv_control(phone2)
    await phone2.send(b"still here")
    for _ in range(5):
        kind, conn, body = await recv_link(link)
        if kind == DATA:
            break
    assert (conn, body) == (conns[p2], b"still here")
    await phone2.close()
    await link.close()


async def test_newer_daemon_link_replaces_older_and_reannounces(relay: RelayClient) -> None:
    device = await relay.register()
    phone_id, secret = await relay.paired_phone(device)
    old = await relay.device_link(device)
    phone = await relay.phone(device, phone_id, secret)
    await recv_link(old)
    assert await recv_control(phone) == {"type": "device", "online": True}
    new = await relay.device_link(device)
    assert await closed_with(old) == 4409
    kind, _, body = await recv_link(new)
    assert kind == OPEN and json.loads(body)["phone_id"] == phone_id
    assert await recv_control(phone) == {"type": "device", "online": True}
    await new.close()
    assert await recv_control(phone) == {"type": "device", "online": False}
    await phone.close()


async def test_phone_text_and_oversize_frames_close_it(relay: RelayClient) -> None:
    device = await relay.register()
    phone_id, secret = await relay.paired_phone(device)
    phone = await relay.phone(device, phone_id, secret)
    await recv_control(phone)
    await phone.send("text is for the relay only")
    assert await closed_with(phone) == 4400
    phone = await relay.phone(device, phone_id, secret)
    await recv_control(phone)
    await phone.send(b"x" * (1 << 20))
    assert await closed_with(phone) == 1009
    phone = await relay.phone(device, phone_id, secret)
    await recv_control(phone)
    await phone.send(b"x" * (256 * 1024 + 64 + 1))  # one byte over the documented limit
    assert await closed_with(phone) == 1009


async def test_malformed_link_frames_close_the_link(relay: RelayClient) -> None:
    device = await relay.register()
    for bad in (b"\x02\x00", link_frame(OPEN, 1, b"{}"), link_frame(9, 1)):
        link = await relay.device_link(device)
        await link.send(bad)
        assert await closed_with(link) == 4400
    link = await relay.device_link(device)
    await link.send(link_frame(DATA, 12345, b"to nobody"))  # unknown conn: ignored
    await link.send("text")
    assert await closed_with(link) == 4400


async def test_unknown_routes_and_methods(relay: RelayClient) -> None:
    async with relay.http() as h:
        assert (await h.get("/v1/nope")).status_code == 404
        assert (await h.get("/v1/devices")).status_code == 405
        r = await h.post("/v1/devices", content=b"x" * 100_000)
    assert r.status_code in (400, 413)
