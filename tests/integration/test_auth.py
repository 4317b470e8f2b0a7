"""Who may call the daemon: the unix socket, the API key on TCP, and nobody from a browser."""

from __future__ import annotations

import json

import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.daemon.services import Services
from loopsy.protocol.errors import Unauthorized

pytestmark = pytest.mark.anyio


def raw(daemon: Services, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{daemon.listening.tcp_port}", headers=headers
    )


async def test_unix_socket_needs_no_key(client: LoopsyClient, daemon: Services) -> None:
    status = await client.status()
    assert status.pid == daemon.pid
    assert status.node_id == daemon.config.current.node.id
    assert {x.kind for x in status.listeners} == {"unix", "tcp"}


async def test_tcp_with_key(tcp_client: LoopsyClient) -> None:
    assert (await tcp_client.status()).version


async def test_health_is_open_but_says_little(daemon: Services) -> None:
    async with raw(daemon) as http:
        response = await http.get("/api/v1/health")
    assert response.status_code == 200
    assert set(response.json()) == {"ok", "service", "version"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
)
async def test_tcp_without_the_right_key(daemon: Services, headers: dict[str, str]) -> None:
    async with raw(daemon, **headers) as http:
        response = await http.get("/api/v1/status")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "hint" in response.json()["error"]


async def test_wrong_key_through_client_raises(daemon: Services) -> None:
    async with LoopsyClient.tcp("127.0.0.1", daemon.listening.tcp_port, "x" * 43) as c:
        with pytest.raises(Unauthorized):
            await c.status()


async def test_origin_refused_even_with_key(daemon: Services) -> None:
    key = daemon.config.current.auth.api_key
    async with raw(daemon, Authorization=f"Bearer {key}", Origin="https://evil.example") as http:
        response = await http.get("/api/v1/status")
        health = await http.get("/api/v1/health")
    assert response.status_code == 403
    assert health.status_code == 403
    assert "cross-origin" in response.json()["error"]["message"]


async def test_origin_refused_on_unix_socket(daemon: Services) -> None:
    transport = httpx.AsyncHTTPTransport(uds=str(daemon.home.socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        response = await http.get("/api/v1/status", headers={"Origin": "http://localhost:3000"})
    assert response.status_code == 403


async def test_dns_rebinding_host_refused(daemon: Services) -> None:
    key = daemon.config.current.auth.api_key
    async with raw(daemon, Authorization=f"Bearer {key}", Host="attacker.example:19532") as http:
        response = await http.get("/api/v1/status")
        health = await http.get("/api/v1/health")
    assert response.status_code == 403
    assert health.status_code == 403


async def test_key_rotation_takes_effect_at_once(daemon: Services) -> None:
    old = daemon.config.current.auth.api_key
    new = "n" * 43

    def rotate(config):  # type: ignore[no-untyped-def]
        config.auth.api_key = new
        return config

    daemon.config.update(rotate)
    async with raw(daemon, Authorization=f"Bearer {old}") as http:
        assert (await http.get("/api/v1/status")).status_code == 401
    async with raw(daemon, Authorization=f"Bearer {new}") as http:
        assert (await http.get("/api/v1/status")).status_code == 200


async def test_unknown_route_and_method_are_json_errors(tcp_client: LoopsyClient) -> None:
    from loopsy.protocol.errors import BadRequest, NotFound

    with pytest.raises(NotFound):
        await tcp_client.request("GET", "/no/such/thing")
    with pytest.raises(BadRequest):
        await tcp_client.request("DELETE", "/status")


async def test_every_request_is_audited_without_secrets(daemon: Services) -> None:
    key = daemon.config.current.auth.api_key
    async with raw(daemon, Authorization=f"Bearer {key}") as http:
        await http.get("/api/v1/status?secret=shh")
    async with raw(daemon, Authorization="Bearer wrong-key-value") as http:
        await http.get("/api/v1/status")
    lines = daemon.home.audit_log.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert {"caller": "key:api", "status": 200, "path": "/api/v1/status"}.items() <= records[
        -2
    ].items()
    assert records[-1]["status"] == 401
    assert records[-1]["caller"] == "anonymous"
    text = "\n".join(lines)
    assert key not in text and "wrong-key-value" not in text and "shh" not in text


async def test_openapi_lists_every_route(client: LoopsyClient, daemon: Services) -> None:
    from loopsy.daemon.app import API_PREFIX, create_app
    from loopsy.daemon.openapi import iter_specs

    document = await client.openapi()
    assert document["openapi"].startswith("3.1")
    app = create_app(daemon)
    for path, spec in iter_specs(list(app.routes)):
        assert spec.method.lower() in document["paths"][path], path
        assert path.startswith(API_PREFIX)
    assert document["paths"]["/api/v1/health"]["get"]["security"] == []
