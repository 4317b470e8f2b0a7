"""The MCP tools driven by the Python MCP client (in memory), against paired daemons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from loopsy.mcp_server.server import create_server
from tests.integration.mesh.conftest import Node, StartNode, pair

pytestmark = pytest.mark.anyio


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    data = result.structured_content
    return data["result"] if isinstance(data, dict) and set(data) == {"result"} else data


async def error_of(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return " ".join(getattr(c, "text", "") for c in result.content)


async def two(start_node: StartNode) -> tuple[Node, Node]:
    a, b = await start_node("alpha"), await start_node("beta")
    await pair(a, b)
    return a, b


async def test_the_tools_are_listed_with_descriptions(start_node: StartNode) -> None:
    a = await start_node("alpha")
    async with Client(create_server(a.services.home)) as mcp:
        tools = {t.name: t for t in (await mcp.list_tools()).tools}
    expected = {
        "loopsy_list_peers",
        "loopsy_peer_status",
        "loopsy_context_set",
        "loopsy_context_get",
        "loopsy_context_list",
        "loopsy_context_delete",
        "loopsy_broadcast_context",
        "loopsy_send_message",
        "loopsy_check_inbox",
        "loopsy_check_ack",
        "loopsy_ack_message",
        "loopsy_transfer_file",
        "loopsy_list_remote_files",
        "loopsy_execute",
        "loopsy_session_start",
        "loopsy_session_read",
        "loopsy_session_send",
        "loopsy_session_stop",
        "loopsy_session_list",
        "loopsy_session_remove",
    }
    assert expected <= set(tools)
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40
        assert "credential" not in json.dumps(tool.input_schema)


async def test_peers_and_context_on_a_peer(start_node: StartNode) -> None:
    a, b = await two(start_node)
    async with Client(create_server(a.services.home)) as mcp:
        (peer,) = await call(mcp, "loopsy_list_peers")
        assert peer["name"] == "beta" and peer["status"] == "online"
        assert "credential" not in json.dumps(peer)
        status = await call(mcp, "loopsy_peer_status", peer="beta")
        assert status["id"] == b.id
        entry = await call(
            mcp, "loopsy_context_set", key="build:status", value="green", peer="beta"
        )
        got = await call(mcp, "loopsy_context_get", key="build:status", peer=b.id)
        assert got["value"] == "green" and got["version"] == entry["version"]
        assert (await b.client.context.get("build:status")).value == "green"
        msg = await error_of(
            mcp,
            "loopsy_context_set",
            key="build:status",
            value="red",
            peer="beta",
            if_version=entry["version"] + 1000,
        )
        assert "version" in msg
        page = await call(mcp, "loopsy_context_list", prefix="build:", peer="beta")
        assert [e["key"] for e in page["entries"]] == ["build:status"]
        await call(mcp, "loopsy_context_delete", key="build:status", peer="beta")
        assert (
            "no"
            in (await error_of(mcp, "loopsy_context_get", key="build:status", peer="beta")).lower()
        )
        assert "no peer" in await error_of(mcp, "loopsy_context_get", key="k", peer="nobody")


async def test_broadcast_writes_every_online_peer(start_node: StartNode) -> None:
    a, b = await two(start_node)
    c, d = await start_node("gamma"), await start_node("delta")
    await pair(a, c)
    await pair(a, d)
    # delta goes away: broadcast must say so, not pretend
    a.services.store.execute("UPDATE mesh_peers SET port = 1 WHERE id = ?", (d.id,))
    async with Client(create_server(a.services.home)) as mcp:
        results = await call(mcp, "loopsy_broadcast_context", key="deploy", value="v2")
    by_name = {r["name"]: r for r in results}
    assert by_name["beta"]["ok"] and by_name["gamma"]["ok"]
    assert not by_name["delta"]["ok"] and "offline" in by_name["delta"]["error"]
    assert (await b.client.context.get("deploy")).value == "v2"
    assert (await c.client.context.get("deploy")).value == "v2"
    assert (await d.client.context.list("deploy")).entries == []


async def test_messages_between_agents(start_node: StartNode) -> None:
    a, b = await two(start_node)
    async with (
        Client(create_server(a.services.home)) as agent_a,
        Client(create_server(b.services.home)) as agent_b,
    ):
        sent = await call(
            agent_a, "loopsy_send_message", peer="beta", type="task", body={"do": "lint"}
        )
        assert sent["state"] == "delivered" and sent["envelope"]["from"] == a.id
        (msg,) = await call(agent_b, "loopsy_check_inbox")
        assert msg["envelope"]["body"] == {"do": "lint"} and msg["envelope"]["from"] == a.id
        mid = msg["envelope"]["id"]
        before = await call(agent_a, "loopsy_check_ack", message_id=mid, peer="beta")
        assert before["message"]["state"] == "delivered" and before["last_ack"]["id"] is None
        await call(agent_b, "loopsy_ack_message", message_id=mid)
        after = await call(agent_a, "loopsy_check_ack", message_id=mid, peer="beta")
        assert after["message"]["state"] == "acked" and after["last_ack"]["id"] == mid
        assert await call(agent_b, "loopsy_check_inbox") == []
        assert "message_id" in await error_of(agent_a, "loopsy_check_ack")


async def test_transfer_both_ways_and_confinement(start_node: StartNode, tmp_path: Path) -> None:
    a, b = await two(start_node)
    for node in (a, b):  # each side allows only its own sandbox
        root = tmp_path / node.name
        root.mkdir()

        def confine(config: Any, root: Path = root) -> Any:
            config.transfer.allowed_paths = [str(root)]
            config.transfer.denied_paths = [str(root / "secret")]
            return config

        node.services.config.update(confine)
    (tmp_path / "alpha" / "report.txt").write_text("artefact\n")
    (tmp_path / "beta" / "secret").mkdir()
    (tmp_path / "beta" / "secret" / "key").write_text("s3cret")
    async with Client(create_server(a.services.home)) as mcp:
        pushed = await call(
            mcp,
            "loopsy_transfer_file",
            direction="push",
            peer="beta",
            source=str(tmp_path / "alpha" / "report.txt"),
            destination=str(tmp_path / "beta" / "in.txt"),
        )
        assert pushed["size"] == 9
        assert (tmp_path / "beta" / "in.txt").read_text() == "artefact\n"
        await call(
            mcp,
            "loopsy_transfer_file",
            direction="pull",
            peer="beta",
            source=str(tmp_path / "beta" / "in.txt"),
            destination=str(tmp_path / "alpha" / "back.txt"),
        )
        assert (tmp_path / "alpha" / "back.txt").read_text() == "artefact\n"
        listing = await call(
            mcp, "loopsy_list_remote_files", peer="beta", path=str(tmp_path / "beta")
        )
        assert {e["name"] for e in listing["entries"]} >= {"in.txt", "secret"}
        # each refusal says which machine refused, and whether reading or writing
        source_there, source_here = "reading the source on 'beta'", "source on this machine"
        dest_there, dest_here = "destination on 'beta'", "writing the destination on this"
        hostile = [
            (
                "pull",
                str(tmp_path / "beta" / "secret" / "key"),
                str(tmp_path / "alpha" / "k"),
                source_there,
            ),
            (
                "pull",
                str(tmp_path / "beta" / ".." / "alpha" / "report.txt"),
                str(tmp_path / "alpha" / "x"),
                source_there,
            ),
            ("pull", "/etc/passwd", str(tmp_path / "alpha" / "p"), source_there),
            (
                "push",
                str(tmp_path / "alpha" / "report.txt"),
                str(tmp_path / "alpha" / "y"),
                dest_there,
            ),
            ("push", "/etc/hostname", str(tmp_path / "beta" / "h"), source_here),
            ("pull", str(tmp_path / "beta" / "in.txt"), "/tmp/../etc/loopsy-escape", dest_here),
            (
                "pull",
                str(tmp_path / "beta" / "in.txt"),
                str(tmp_path / "alpha" / "back.txt"),
                dest_here,
            ),
        ]
        for direction, source, destination, side in hostile:
            message = await error_of(
                mcp,
                "loopsy_transfer_file",
                direction=direction,
                peer="beta",
                source=source,
                destination=destination,
            )
            assert side in message, message
    assert not (tmp_path / "alpha" / "k").exists() and not (tmp_path / "alpha" / "p").exists()
    assert not Path("/etc/loopsy-escape").exists()
    assert (tmp_path / "beta" / "secret" / "key").read_text() == "s3cret"


async def test_a_long_mcp_session_follows_removal_and_re_pairing(start_node: StartNode) -> None:
    a, b = await two(start_node)
    async with Client(create_server(a.services.home)) as mcp:
        await call(mcp, "loopsy_context_set", key="k", value="1", peer="beta")
        await b.client.peers.remove("alpha")  # beta revokes alpha
        refused = await error_of(mcp, "loopsy_context_get", key="k", peer="beta")
        assert "not paired here, or removed" in refused and "loopsy pair" in refused
        await a.client.peers.remove("beta")
        assert "no peer named" in await error_of(mcp, "loopsy_context_get", key="k", peer="beta")
        await pair(b, a)  # paired again: new credentials, same MCP session
        got = await call(mcp, "loopsy_context_get", key="k", peer="beta")
        assert got["value"] == "1"
