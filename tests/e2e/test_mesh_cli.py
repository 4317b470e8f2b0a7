"""Two real daemons pair through the real `loopsy pair` commands, then the CLI calls one
from the other with --peer, agents drive them through MCP over stdio, removal revokes."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from loopsy.config import load_config, save_config
from tests.conftest import Cli
from tests.e2e.mesh_processes import (
    Interactive,
    confirm_code,
    env_for,
    mesh_home,
    pair_with_cli,
)
from tests.helpers.sessions import kill_holders

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def two_clis() -> Iterator[tuple[Cli, Cli]]:
    root = Path(tempfile.mkdtemp(prefix="le-", dir="/tmp"))
    clis = (Cli(mesh_home(root, "alpha")), Cli(mesh_home(root, "beta")))
    for cli in clis:  # files move within one sandbox on both sides
        allow_paths(cli, root / "files")
    try:
        for cli in clis:
            cli("start", "--port", "0")
        yield clis
    finally:
        for cli in clis:
            cli("stop", check=False)
            kill_holders(cli.home)
        shutil.rmtree(root, ignore_errors=True)


def test_pair_call_and_revoke_with_the_cli(two_clis: tuple[Cli, Cli], tmp_path: Path) -> None:
    a, b = two_clis
    status = json.loads(a("status", "--json").stdout)
    mesh = [x["address"] for x in status["listeners"] if x["kind"] == "mesh"]
    assert len(mesh) == 1 and mesh[0].startswith("127.0.0.1:")
    assert f"mesh:    {mesh[0]}" in a("status").stdout
    pair_with_cli(a, b)
    peers = json.loads(b("peers", "list", "--json").stdout)
    assert [(p["name"], p["paired"], p["status"]) for p in peers] == [("alpha", True, "online")]
    human = b("peers", "list").stdout
    assert "alpha" in human and "online" in human and " ms" in human

    b("context", "set", "build:state", "green", "--peer", "alpha")
    assert a("context", "get", "build:state").stdout.strip().endswith("green")
    assert "build:state" not in b("context", "list").stdout

    ran = b("exec", "--peer", "alpha", "--", "sh", "-c", "echo on-$LOOPSY_PEER_TEST_MARK-x")
    assert "on--x" in ran.stdout
    assert b("session", "list", "--peer", "alpha", "--json").stdout.strip() == "[]"

    sent = json.loads(b("msg", "send", "alpha", '{"job": 7}', "--type", "task", "--json").stdout)
    assert sent["state"] == "delivered"
    inbox = a("msg", "inbox").stdout
    assert sent["envelope"]["id"] in inbox and '{"job": 7}' in inbox
    assert "the sender knows" in a("msg", "ack", sent["envelope"]["id"]).stdout
    assert "acked" in b("msg", "status", sent["envelope"]["id"]).stdout
    assert a("msg", "inbox").stdout.strip() == "The inbox is empty."

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


def test_pair_refuses_without_the_mesh(cli: Cli) -> None:
    cli("start", "--port", "0")
    result = cli("pair", "--timeout", "5", check=False)
    assert result.returncode == 1
    assert "does not listen for peers" in result.stderr and "--lan" in result.stderr
    bad = cli("pair", "not a host", check=False)
    assert bad.returncode == 1 and "HOST" in bad.stderr


def test_a_wrong_code_given_with_code_frees_the_waiting_machine(
    two_clis: tuple[Cli, Cli],
) -> None:
    """`loopsy pair HOST --code WRONG` gives up the attempt there too: A's prompt says so
    instead of failing on 'no code to accept', and B can run again at once."""
    a, b = two_clis
    waiting = Interactive(a, "pair", "--timeout", "60")
    try:
        address = waiting.expect(r"loopsy pair (127\.0\.0\.1:\d+)").group(1)
        guess = Interactive(b, "pair", address, "--code", "000000")  # wrong but 1 in 10**6
        assert guess.finish() == 1, guess.seen
        guess.kill()
        assert "wrong code" in guess.seen and "attempts left" not in guess.seen
        assert f"pair {address}" in guess.seen  # the hint: run it again
        waiting.expect(r"Pairing code:\s+\d{3} \d{3}")
        waiting.expect(r"\[y/N\]", anywhere=True)
        waiting.send("y\n")  # about the attempt that has just ended
        waiting.expect(r"That attempt ended \(the other machine gave up")
        joining = Interactive(b, "pair", address)
        try:
            confirm_code(waiting, joining)
        finally:
            joining.kill()
    finally:
        waiting.kill()
    peers = json.loads(b("peers", "list", "--json").stdout)
    assert [(p["name"], p["paired"]) for p in peers] == [("alpha", True)]


def test_done_when_an_agent_builds_on_the_other_machine(two_clis: tuple[Cli, Cli]) -> None:
    """The issue's scenario with real processes: two daemons pair with one code; an agent
    on one (MCP over stdio) runs a build in a session on the other, polls it to the end,
    fetches the artefact and leaves a message that the other's agent reads and acks."""
    laptop, studio = two_clis
    pair_with_cli(laptop, studio)  # laptop waits, studio joins: either way works
    sandbox = laptop.home.root.parent / "files"
    work, inbox_dir = sandbox / "work", sandbox / "fetched"
    work.mkdir(parents=True)
    inbox_dir.mkdir()
    build = "echo compiling; sleep 0.2; echo linked > app.bin; echo BUILD-DONE"

    async def agents() -> None:
        def server(cli: Cli) -> StdioServerParameters:
            return StdioServerParameters(
                command=sys.executable, args=["-m", "loopsy", "mcp"], env=env_for(cli.home)
            )

        async def call(mcp: Client, tool: str, **arguments: object) -> Any:
            result = await mcp.call_tool(tool, arguments)
            assert not result.is_error, result.content
            data = result.structured_content
            return data["result"] if isinstance(data, dict) and set(data) == {"result"} else data

        async with Client(server(laptop)) as agent, Client(server(studio)) as other:
            session = await call(
                agent,
                "loopsy_session_start",
                peer="beta",
                command=["sh", "-c", build],
                cwd=str(work),
            )
            since, text, exit_code = 0, "", None
            for _ in range(60):
                read = await call(
                    agent,
                    "loopsy_session_read",
                    peer="beta",
                    session=session["id"],
                    since=since,
                    wait=5,
                )
                text, since = text + read["data"], read["next"]
                if read["exited"]:
                    exit_code = read["exit_code"]
                    break
            assert exit_code == 0 and "BUILD-DONE" in text
            await call(
                agent,
                "loopsy_transfer_file",
                direction="pull",
                peer="beta",
                source=str(work / "app.bin"),
                destination=str(inbox_dir / "app.bin"),
            )
            sent = await call(
                agent,
                "loopsy_send_message",
                peer="beta",
                type="result",
                body={"build": session["id"], "artefact": "app.bin"},
            )
            (message,) = await call(other, "loopsy_check_inbox")
            assert message["envelope"]["body"]["artefact"] == "app.bin"
            assert message["envelope"]["from"] == sent["envelope"]["from"]
            await call(other, "loopsy_ack_message", message_id=message["envelope"]["id"])
            receipt = await call(
                agent, "loopsy_check_ack", message_id=sent["envelope"]["id"], peer="beta"
            )
            assert receipt["message"]["state"] == "acked"
            assert receipt["last_ack"]["id"] == sent["envelope"]["id"]
            await call(agent, "loopsy_session_remove", peer="beta", session=session["id"])

    anyio.run(agents)
    assert (inbox_dir / "app.bin").read_text() == "linked\n"


def allow_paths(cli: Cli, root: Path) -> None:
    config = load_config(cli.home)
    config.transfer.allowed_paths = [str(root)]
    config.transfer.denied_paths = []
    save_config(cli.home, config)


def test_init_registers_mcp_when_asked(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".gemini").mkdir()
    cli.env = {**cli.env, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}
    quiet = cli("init").stdout  # not a terminal: only a hint
    assert "loopsy mcp install" in quiet and not (tmp_path / ".gemini" / "settings.json").exists()
    done = json.loads(cli("init", "--mcp", "--json").stdout)
    assert [(c["agent"], c["action"]) for c in done["mcp"]] == [("gemini", "added")]
    settings = json.loads((tmp_path / ".gemini" / "settings.json").read_text())
    assert settings["mcpServers"]["loopsy"]["args"] == ["-m", "loopsy", "mcp"]
    assert settings["mcpServers"]["loopsy"]["env"] == {"LOOPSY_HOME": str(cli.home.root)}
    dry = cli("mcp", "uninstall", "--dry-run").stdout
    assert (
        "would remove" in dry and "loopsy" in (tmp_path / ".gemini" / "settings.json").read_text()
    )
    cli("mcp", "uninstall")
    assert "loopsy" not in json.loads((tmp_path / ".gemini" / "settings.json").read_text()).get(
        "mcpServers", {}
    )


def test_mesh_port_in_use_is_a_clear_error(cli: Cli) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        config = load_config(cli.home)
        config.mesh.listen, config.mesh.host, config.mesh.port = True, "127.0.0.1", port
        save_config(cli.home, config)
        result = cli("start", "--port", "0", check=False)
    assert result.returncode == 1
    assert f"peer listener (mesh.port): port {port}" in result.stderr
