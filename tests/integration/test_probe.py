"""The standard-library status probe reads the same answer as the full client."""

from __future__ import annotations

import pytest

from loopsy.client import LoopsyClient
from loopsy.client.probe import local_status
from loopsy.daemon.services import Services

pytestmark = pytest.mark.anyio


async def test_probe_matches_the_client(client: LoopsyClient, daemon: Services) -> None:
    import anyio.to_thread

    probed = await anyio.to_thread.run_sync(local_status, daemon.home)
    full = await client.status()
    assert probed is not None
    assert probed.pid == full.pid == daemon.pid
    assert probed.node_id == full.node_id and probed.version == full.version
    assert {(x.kind, x.address) for x in probed.listeners} == {
        (x.kind, x.address) for x in full.listeners
    }
    assert set(probed.raw) >= set(full.model_dump())
