"""Hostile input to POST /execute: every bad body gets a clear error, nothing runs, and the
daemon carries on. The rate limit really limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.daemon.services import Services

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(daemon: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(uds=str(daemon.home.socket))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://localhost/api/v1", timeout=30
    ) as c:
        yield c


def marker_command(tmp_path: Path) -> list[str]:
    return ["sh", "-c", f"echo ran >> {tmp_path / 'ran'}"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 422, "exactly one of argv"),
        (b"null", 422, "invalid request"),
        (b"[]", 422, "invalid request"),
        (b'"ls"', 422, "invalid request"),
        (b'{"argv": "ls -l"}', 422, "argv"),
        (b'{"argv": [1, 2]}', 422, "argv.0"),
        (b'{"argv": [["ls"]]}', 422, "argv.0"),
        (b'{"argv": []}', 422, "empty"),
        (b'{"argv": [""]}', 422, "must not be empty"),
        (b'{"argv": ["ls", "a\\u0000b"]}', 422, "NUL"),
        (b'{"shell": "ls\\u0000; rm x"}', 422, "NUL"),
        (b'{"argv": ["ls"], "env": {"A": "x\\u0000"}}', 422, "NUL"),
        (b'{"argv": ["ls"], "env": {"A=B": "x"}}', 422, "without '='"),
        (b'{"argv": ["ls"], "env": {"A": 1}}', 422, "env.A"),
        (b'{"argv": ["ls"], "env": ["A=1"]}', 422, "env"),
        (b'{"argv": ["ls"], "timeout": "5"}', 422, "timeout"),
        (b'{"argv": ["ls"], "timeout": -1}', 422, "timeout"),
        (b'{"argv": ["ls"], "timeout": true}', 422, "timeout"),
        (b'{"argv": ["ls"], "cwd": 5}', 422, "cwd"),
        (b'{"argv": ["ls"], "cwd": "relative"}', 422, "absolute"),
        (b'{"argv": ["ls"], "stdin": 5}', 422, "stdin"),
        (b'{"argv": ["ls"], "shell": "ls"}', 422, "exactly one"),
        (b'{"argv": ["ls"], "sudo": true}', 422, "sudo"),
        (b'{"argv": ["ls"], "timeout": 1e400}', 422, "timeout"),
    ],
)
async def test_bad_bodies(
    http: httpx.AsyncClient, body: bytes, status: int, fragment: str
) -> None:
    response = await http.post(
        "/execute", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert fragment in error["message"], error


async def test_huge_body_is_413_and_nothing_runs(http: httpx.AsyncClient, tmp_path: Path) -> None:
    body: dict[str, Any] = {"argv": marker_command(tmp_path), "stdin": "x" * (5 << 20)}
    response = await http.post("/execute", json=body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not (tmp_path / "ran").exists()


async def test_a_long_argv_within_limits_runs(client: LoopsyClient) -> None:
    result = await client.execute.run(["echo", *(["word"] * 4000)])
    assert result.stdout.count("word") == 4000


async def test_traversal_and_odd_cwds(client: LoopsyClient, http: httpx.AsyncClient) -> None:
    result = await client.execute.run(["pwd"], cwd="/tmp/../tmp/./")
    assert result.stdout.strip() in ("/tmp/../tmp/.", "/tmp")
    response = await http.post("/execute", json={"argv": ["ls"], "cwd": "/nonexistent/../x"})
    assert response.status_code == 404


async def test_tcp_needs_the_key_and_no_origin(daemon: Services, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{daemon.listening.tcp_port}/api/v1"
    body = {"argv": marker_command(tmp_path)}
    key = daemon.config.current.auth.api_key
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.post("/execute", json=body)).status_code == 401
        wrong = {"Authorization": "Bearer " + "x" * 43}
        assert (await http.post("/execute", json=body, headers=wrong)).status_code == 401
        foreign = {"Authorization": f"Bearer {key}", "Origin": "https://evil.example"}
        assert (await http.post("/execute", json=body, headers=foreign)).status_code == 403
    assert not (tmp_path / "ran").exists()


async def test_31st_execute_in_a_minute_is_429(
    daemon: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon.limiter, "_clock", lambda: 1000.0)
    base = f"http://127.0.0.1:{daemon.listening.tcp_port}/api/v1"
    headers = {"Authorization": f"Bearer {daemon.config.current.auth.api_key}"}
    body = {"argv": marker_command(tmp_path)}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        for i in range(30):
            response = await http.post("/execute", json=body)
            assert response.status_code == 200, (i, response.text)
        refused = await http.post("/execute", json=body)
        jobs = await http.get("/execute/jobs")  # not an execute: still answered
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "30 per minute" in refused.json()["error"]["message"]
    assert jobs.status_code == 200
    assert (tmp_path / "ran").read_text().count("ran") == 30  # the 31st never ran


async def test_the_daemon_carries_on_after_abuse(
    client: LoopsyClient, http: httpx.AsyncClient
) -> None:
    for body in (b"{", b"[]", b'{"argv": 1}', b'{"argv": ["rm", "-rf", "/"]}'):
        assert (await http.post("/execute", content=body)).status_code >= 400
    assert await client.execute.jobs() == []
    assert (await client.execute.run(["echo", "fine"])).stdout == "fine\n"
