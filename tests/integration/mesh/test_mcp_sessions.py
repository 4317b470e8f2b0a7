"""MCP session and execute tools on a peer: the issue's "done when" in process — a build
in a session on the other machine, polled to its end, its artefact fetched, a message left
and acknowledged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from loopsy.mcp_server.server import create_server
from tests.integration.mesh.conftest import StartNode, pair
from tests.integration.mesh.test_mcp_tools import call, error_of

pytestmark = pytest.mark.anyio


def allow(node: Any, root: Path) -> None:
    def change(config: Any) -> Any:
        config.transfer.allowed_paths = [str(root)]
        config.transfer.denied_paths = []
        return config

    node.services.config.update(change)


async def test_build_on_a_peer_through_mcp(start_node: StartNode, tmp_path: Path) -> None:
    laptop, studio = await start_node("laptop"), await start_node("studio")
    await pair(laptop, studio)
    work = tmp_path / "studio"
    work.mkdir()
    allow(studio, work)
    allow(laptop, tmp_path / "laptop")
    (tmp_path / "laptop").mkdir()
    script = "for i in 1 2 3; do echo step $i; done; echo built > app.bin; echo BUILD-OK"
    async with (
        Client(create_server(laptop.services.home)) as agent,
        Client(create_server(studio.services.home)) as studio_agent,
    ):
        session = await call(
            agent,
            "loopsy_session_start",
            peer="studio",
            cwd=str(work),
            command=["sh", "-c", script],
            name="build",
        )
        since, output, finished = 0, "", None
        for _ in range(100):  # bounded: each read waits up to 5 s for news
            read = await call(
                agent,
                "loopsy_session_read",
                peer="studio",
                session=session["id"],
                since=since,
                wait=5,
            )
            output += read["data"]
            since = read["next"]
            if read["exited"]:
                finished = read
                break
        assert finished is not None and finished["exit_code"] == 0
        assert "step 3" in output and "BUILD-OK" in output
        listed = await call(agent, "loopsy_session_list", peer="studio")
        assert [s["name"] for s in listed] == ["build"]

        await call(
            agent,
            "loopsy_transfer_file",
            direction="pull",
            peer="studio",
            source=str(work / "app.bin"),
            destination=str(tmp_path / "laptop" / "app.bin"),
        )
        assert (tmp_path / "laptop" / "app.bin").read_text() == "built\n"

        sent = await call(
            agent,
            "loopsy_send_message",
            peer="studio",
            type="result",
            body={"artefact": "app.bin", "status": "fetched"},
        )
        (inbox,) = await call(studio_agent, "loopsy_check_inbox")
        assert inbox["envelope"]["from"] == laptop.id
        assert inbox["envelope"]["body"]["status"] == "fetched"
        await call(studio_agent, "loopsy_ack_message", message_id=inbox["envelope"]["id"])
        receipt = await call(agent, "loopsy_check_ack", message_id=sent["envelope"]["id"])
        assert receipt["message"]["state"] == "acked"

        await call(agent, "loopsy_session_remove", peer="studio", session=session["id"])
        assert await call(agent, "loopsy_session_list", peer="studio") == []


async def test_interactive_session_and_stop(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    await pair(a, b)
    async with Client(create_server(a.services.home)) as agent:
        started = await call(
            agent,
            "loopsy_session_start",
            peer="beta",
            command=["sh", "-c", "read line; echo got:$line; exec sleep 600"],
        )
        sid = started["id"]
        await call(agent, "loopsy_session_send", peer="beta", session=sid, text="hello")
        since, seen = 0, ""
        for _ in range(20):
            read = await call(
                agent, "loopsy_session_read", peer="beta", session=sid, since=since, wait=5
            )
            seen += read["data"]
            since = read["next"]
            if "got:hello" in seen:
                break
        assert "got:hello" in seen
        stopped = await call(agent, "loopsy_session_stop", peer="beta", session=sid, grace=0.5)
        assert stopped["state"] != "running"
        message = await error_of(agent, "loopsy_session_read", peer="beta", session="no-such")
        assert "no-such" in message or "not" in message.lower()
        await call(agent, "loopsy_session_remove", peer="beta", session=sid)


async def test_execute_on_a_peer(start_node: StartNode) -> None:
    a, b = await start_node("alpha"), await start_node("beta")
    await pair(a, b)
    async with Client(create_server(a.services.home)) as agent:
        script = "echo out; echo err >&2; exit 3"
        result = await call(agent, "loopsy_execute", peer="beta", command=["sh", "-c", script])
        assert (result["exit_code"], result["stdout"], result["stderr"]) == (3, "out\n", "err\n")
        assert "exactly one" in await error_of(agent, "loopsy_execute", peer="beta")
        listed = await call(agent, "loopsy_execute", peer="beta", shell="echo peer-$((1+1))")
        assert listed["stdout"].strip() == "peer-2"
