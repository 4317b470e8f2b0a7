"""Several in-process daemons on one machine, each with its own LOOPSY_HOME, its unix
socket, a loopback TCP port and a peer TLS listener on 127.0.0.1 (port 0: any free one)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.config import default_config, save_config
from loopsy.daemon.server import ServeOptions, serve
from loopsy.daemon.services import Services, create_services
from loopsy.home import LoopsyHome
from tests.helpers.sessions import kill_holders


@dataclass
class Node:
    services: Services
    client: LoopsyClient

    @property
    def id(self) -> str:
        return self.services.config.current.node.id

    @property
    def name(self) -> str:
        return self.services.config.current.node.name

    @property
    def mesh_port(self) -> int:
        assert self.services.mesh is not None
        return self.services.mesh.port


def make_home(name: str, root: Path, *, listen: bool = True) -> LoopsyHome:
    home = LoopsyHome(root / f"{len(list(root.iterdir()))}{name[:8]}")  # two may share a name
    config = default_config(home)
    config.node.name = name
    config.mesh.listen = listen
    config.mesh.host = "127.0.0.1"
    config.mesh.port = 0
    config.mesh.health_interval = 3600.0  # tests refresh on demand
    save_config(home, config)
    return home


class StartNode(Protocol):
    def __call__(self, name: str, *, listen: bool = True) -> Awaitable[Node]: ...


@pytest.fixture
async def start_node(anyio_backend: str) -> AsyncIterator[StartNode]:
    """``await start_node("alpha")``: a daemon in this process; all stop at the test's end.
    ``listen=False``: without its peer listener (no --lan, no mesh.listen)."""
    root = Path(tempfile.mkdtemp(prefix="lm-", dir="/tmp"))
    nodes: list[Node] = []
    async with anyio.create_task_group() as tg:

        async def start(name: str, *, listen: bool = True) -> Node:
            services = create_services(make_home(name, root, listen=listen))
            await tg.start(
                lambda task_status: serve(
                    services, ServeOptions(port=0), handle_signals=False, task_status=task_status
                )
            )
            node = Node(services, LoopsyClient.local(services.home))
            nodes.append(node)
            return node

        try:
            yield start
        finally:
            for node in nodes:
                await node.client.aclose()
            tg.cancel_scope.cancel()
    for node in nodes:
        node.services.close()
        kill_holders(node.services.home)  # session holders outlive daemons by design
    shutil.rmtree(root, ignore_errors=True)


async def pair(a: Node, b: Node) -> None:
    """A waits, B connects and types A's code, A's user accepts: the happy path."""
    await a.client.peers.pairing_listen(60)
    status = await b.client.peers.pairing_connect("127.0.0.1", a.mesh_port)
    assert status.state == "code_ready"
    shown = await a.client.peers.pairing_status()
    assert shown.state == "code_ready" and shown.code is not None
    async with anyio.create_task_group() as tg:
        tg.start_soon(a.client.peers.pairing_decide, True)
        done = await b.client.peers.pairing_verify(shown.code)
    assert done.state == "done"
