"""Two real daemons pair through the real `loopsy pair` commands, then the CLI calls one
from the other with --peer, an MCP server over stdio lists them, and removal revokes."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import Cli
from tests.e2e.mesh_processes import env_for, mesh_home, pair_with_cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def two_clis() -> Iterator[tuple[Cli, Cli]]:
    root = Path(tempfile.mkdtemp(prefix="le-", dir="/tmp"))
    clis = (Cli(mesh_home(root, "alpha")), Cli(mesh_home(root, "beta")))
    try:
        for cli in clis:
            cli("start", "--port", "0")
        yield clis
    finally:
        for cli in clis:
            cli("stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_pair_call_and_revoke_with_the_cli(two_clis: tuple[Cli, Cli], tmp_path: Path) -> None:
    a, b = two_clis
    pair_with_cli(a, b)
    peers = json.loads(b("peers", "list", "--json").stdout)
    assert [(p["name"], p["paired"], p["status"]) for p in peers] == [("alpha", True, "online")]
    human = b("peers", "list").stdout
    assert "alpha" in human and "online" in human and " ms" in human

    b("context", "set", "build:state", "green", "--peer", "alpha")
    assert a("context", "get", "build:state").stdout.strip().endswith("green")
    assert "build:state" not in b("context", "list").stdout

    a_id = peers[0]["id"]
    status = json.loads(b("peers", "status", a_id, "--json").stdout)
    assert status["status"] == "online"

    removed = a("peers", "remove", "beta")
    assert "no longer works" in removed.stdout
    refused = b("context", "get", "build:state", "--peer", "alpha", check=False)
    assert refused.returncode == 1 and "loopsy: error:" in refused.stderr
    unknown = b("context", "get", "x", "--peer", "nobody", check=False)
    assert unknown.returncode == 1 and "no peer named 'nobody'" in unknown.stderr
    assert "hint:" in unknown.stderr


def test_mcp_server_over_stdio(two_clis: tuple[Cli, Cli]) -> None:
    a, b = two_clis
    pair_with_cli(a, b)

    async def session() -> list[str]:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "loopsy", "mcp"], env=env_for(b.home)
        )
        async with Client(params) as mcp:
            result = await mcp.call_tool("loopsy_list_peers", {})
            assert not result.is_error
            listed = result.structured_content["result"]  # type: ignore[index]
            await mcp.call_tool(
                "loopsy_context_set", {"key": "from-mcp", "value": "1", "peer": "alpha"}
            )
            return [p["name"] for p in listed]

    assert anyio.run(session) == ["alpha"]
    assert a("context", "get", "from-mcp").stdout.strip().endswith("1")


def test_pair_refuses_without_the_mesh(cli: Cli) -> None:
    cli("start", "--port", "0")
    result = cli("pair", "--timeout", "5", check=False)
    assert result.returncode == 1
    assert "does not listen for peers" in result.stderr and "--lan" in result.stderr
    bad = cli("pair", "not a host", check=False)
    assert bad.returncode == 1 and "HOST" in bad.stderr
