"""Rate limits really limit: per caller, per category, 429 with Retry-After, and a flood
of callers cannot grow the limiter's memory without bound."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.config import Config
from loopsy.daemon.services import Services
from loopsy.protocol.errors import RateLimited

pytestmark = pytest.mark.anyio

OTHER_KEY = "o" * 43


@pytest.fixture(autouse=True)
def frozen_time(daemon: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Buckets refill with time; a frozen limiter clock makes "the 61st request within a
    minute" exact however slowly this machine runs the first 60."""
    monkeypatch.setattr(daemon.limiter, "_clock", lambda: 1000.0)


def tcp(daemon: Services, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{daemon.listening.tcp_port}/api/v1",
        headers={"Authorization": f"Bearer {key}"},
    )


async def test_61st_context_request_is_429_with_retry_after(daemon: Services) -> None:
    async with tcp(daemon, daemon.config.current.auth.api_key) as http:
        for i in range(60):
            response = await http.put(f"/context/k{i}", json={"value": "v"})
            assert response.status_code == 200, (i, response.text)
        refused = await http.put("/context/k60", json={"value": "v"})
        refused_read = await http.get("/context/k0")
    assert refused.status_code == 429
    assert refused_read.status_code == 429
    retry = int(refused.headers["Retry-After"])
    assert 1 <= retry <= 60
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and "60 per minute" in error["message"]
    assert "rateLimits.context" in error["hint"]
    assert daemon.context.get("k60") is None  # refused before anything was written
    assert daemon.context.get("k59") is not None


async def test_11th_transfer_is_429(daemon: Services, tmp_path: Path) -> None:
    async with tcp(daemon, daemon.config.current.auth.api_key) as http:
        for _ in range(10):
            response = await http.get("/files/list", params={"path": str(tmp_path)})
            assert response.status_code in (200, 403), response.text
        refused = await http.put(
            "/files/content", params={"path": str(tmp_path / "x")}, content=b"data"
        )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert not (tmp_path / "x").exists()


async def test_callers_have_separate_buckets(daemon: Services, client: LoopsyClient) -> None:
    def allow_other(config: Config) -> Config:
        digest = "sha256:" + hashlib.sha256(OTHER_KEY.encode()).hexdigest()
        config.auth.allowed_keys = {"other": digest}
        return config

    daemon.config.update(allow_other)
    async with tcp(daemon, daemon.config.current.auth.api_key) as main:
        for _ in range(60):
            assert (await main.get("/context")).status_code == 200
        assert (await main.get("/context")).status_code == 429
        async with tcp(daemon, OTHER_KEY) as other:
            assert (await other.get("/context")).status_code == 200
        # The local user is yet another caller, and other categories are untouched.
        assert (await client.context.list()).entries == []
        assert (await main.get("/status")).status_code == 200


async def test_local_caller_is_limited_too(client: LoopsyClient) -> None:
    for i in range(60):
        await client.context.set(f"k{i}", "v")
    with pytest.raises(RateLimited) as info:
        await client.context.get("k0")
    assert info.value.retry_after >= 1


async def test_limits_follow_config_changes(daemon: Services) -> None:
    def tighten(config: Config) -> Config:
        config.rate_limits.context = 2
        return config

    daemon.config.update(tighten)
    async with tcp(daemon, daemon.config.current.auth.api_key) as http:
        assert (await http.get("/context")).status_code == 200
        assert (await http.get("/context")).status_code == 200
        response = await http.get("/context")
    assert response.status_code == 429
    assert "2 per minute" in response.json()["error"]["message"]
