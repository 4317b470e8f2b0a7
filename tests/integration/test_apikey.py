"""Rotating the API key through the daemon: local only, and in force at once."""

from __future__ import annotations

import stat

import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.config import load_config
from loopsy.daemon.services import Services
from loopsy.protocol.errors import Conflict, Forbidden

pytestmark = pytest.mark.anyio


async def status_with(daemon: Services, key: str) -> int:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{daemon.listening.tcp_port}/api/v1",
        headers={"Authorization": f"Bearer {key}"},
    ) as http:
        return (await http.get("/status")).status_code


async def test_rotation_takes_effect_at_once(client: LoopsyClient, daemon: Services) -> None:
    old = daemon.config.current.auth.api_key
    assert await status_with(daemon, old) == 200
    new = (await client.api_key.rotate()).api_key
    assert new != old and len(new) >= 43
    assert await status_with(daemon, old) == 401
    assert await status_with(daemon, new) == 200
    saved = load_config(daemon.home)
    assert saved.auth.api_key == new
    assert stat.S_IMODE(daemon.home.config_file.stat().st_mode) == 0o600
    assert old not in daemon.home.audit_log.read_text()
    assert new not in daemon.home.audit_log.read_text()


async def test_only_the_local_user_may_rotate(tcp_client: LoopsyClient, daemon: Services) -> None:
    key = daemon.config.current.auth.api_key
    with pytest.raises(Forbidden) as refused:
        await tcp_client.api_key.rotate()
    assert "unix socket" in str(refused.value.hint)
    assert daemon.config.current.auth.api_key == key
    assert await status_with(daemon, key) == 200


async def test_only_post_rotates(daemon: Services) -> None:
    transport = httpx.AsyncHTTPTransport(uds=str(daemon.home.socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        wrong_method = await http.get("/api/v1/auth/api-key")
    assert wrong_method.status_code == 405
    assert "not allowed" in wrong_method.json()["error"]["message"]


async def test_rotation_keeps_edits_made_to_the_file(
    client: LoopsyClient, daemon: Services
) -> None:
    """The daemon saves the change into config.yaml as it is now, not the config it loaded
    at start: an edit made meanwhile (applying at the next start) is not reverted."""
    path = daemon.home.config_file
    path.write_text(path.read_text().replace("maxConcurrent: 10", "maxConcurrent: 7"))
    new = (await client.api_key.rotate()).api_key
    saved = load_config(daemon.home)
    assert saved.auth.api_key == new
    assert saved.execution.max_concurrent == 7
    assert daemon.config.current.execution.max_concurrent == 10  # live from the next start


async def test_rotation_refused_while_the_file_is_broken(
    client: LoopsyClient, daemon: Services
) -> None:
    old = daemon.config.current.auth.api_key
    path = daemon.home.config_file
    broken = path.read_text().replace("maxConcurrent:", "maxConcurent:")
    path.write_text(broken)
    with pytest.raises(Conflict) as refused:
        await client.api_key.rotate()
    assert "execution.maxConcurent: unknown key" in str(refused.value)
    assert "nothing was changed" in str(refused.value)
    assert path.read_text() == broken
    assert daemon.config.current.auth.api_key == old
    assert await status_with(daemon, old) == 200
