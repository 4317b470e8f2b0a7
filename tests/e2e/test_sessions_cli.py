"""Sessions through the real ``loopsy`` command and a real daemon: the terminal attach,
and sessions (and their screens) surviving ``loopsy stop; loopsy start``."""

from __future__ import annotations

import asyncio
import json
import re
import select
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from loopsy.client import LoopsyClient
from loopsy.protocol import stream
from loopsy.terminal.screen import Screen
from tests.conftest import Cli
from tests.helpers.sessions import pid_gone

pytestmark = pytest.mark.e2e
T = TypeVar("T")


def run(cli: Cli, body: Callable[[LoopsyClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with LoopsyClient.local(cli.home) as client:
            return await body(client)

    return asyncio.run(main())


async def screen_with(client: LoopsyClient, ref: str, text: str) -> list[str]:
    """The session's screen once ``text`` is on it (long-polls output between looks)."""
    offset = 0
    for _ in range(100):
        screen = await client.sessions.screen(ref)
        if any(text in line for line in screen.lines):
            return screen.lines
        offset = (await client.sessions.read(ref, offset, wait=2.0)).next
    raise AssertionError(f"{text!r} never showed on the screen")


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed (scripts/setup)")
def test_daemon_restart_keeps_the_session_and_its_screen(cli: Cli, tmp_path: Any) -> None:
    note = tmp_path / "note.txt"
    note.write_text("".join(f"line {i} of the note\n" for i in range(1, 60)))
    cli("start", "--port", "0")
    created = json.loads(cli(
        "session", "new", "--name", "ed", "--size", "100x30", "--json", "--",
        "vim", "-u", "NONE", "-N", "-n", str(note),
    ).stdout)
    before = run(cli, lambda c: screen_with(c, "ed", "line 29 of the note"))
    holder = created["holder_pid"]

    cli("stop")
    assert not pid_gone(holder), "the daemon took the session down with it"
    cli("start", "--port", "0")

    listed = json.loads(cli("session", "list", "--json").stdout)
    assert [(s["name"], s["state"], s["holder_pid"]) for s in listed] == [
        ("ed", "running", holder)
    ]
    after = run(cli, lambda c: c.sessions.screen("ed"))
    assert after.lines == before and after.alternate

    async def reattach(client: LoopsyClient) -> list[str]:
        async with client.sessions.attach("ed") as s:
            attached, snap = await s.recv(), await s.recv()
            assert isinstance(attached, stream.Attached)
            assert isinstance(snap, stream.Snapshot) and (snap.cols, snap.rows) == (100, 30)
            fresh = Screen(snap.cols, snap.rows)
            fresh.feed(snap.data)
            await s.send_input(b":q!\r")
            for _ in range(1000):
                frame = await s.recv()
                if isinstance(frame, stream.Exit):
                    assert frame.returncode == 0
                    break
            return fresh.display()

    assert [line.rstrip() for line in run(cli, reattach)] == [line.rstrip() for line in before]
    listed = json.loads(cli("session", "list", "--json").stdout)
    assert listed[0]["state"] == "exited" and listed[0]["exit"]["code"] == 0


def test_loopsy_shell_attaches_and_detaches(cli: Cli) -> None:
    import ptyprocess

    cli("start", "--port", "0")
    process = ptyprocess.PtyProcess.spawn(
        [sys.executable, "-m", "loopsy", "shell", "work"], env=cli.env, dimensions=(30, 100)
    )
    seen = b""

    def until(marker: bytes | Callable[[], bool]) -> None:
        nonlocal seen
        deadline = time.monotonic() + 20

        def found() -> bool:
            return marker in seen if isinstance(marker, bytes) else marker()

        while not found():
            assert time.monotonic() < deadline, f"{marker!r} not in {seen[-400:]!r}"
            ready, _, _ = select.select([process.fd], [], [], 0.5)
            if not ready:
                continue
            try:
                seen += process.read(65536)
            except EOFError:
                break
        assert found(), seen[-400:]

    def prompted() -> bool:
        """The shell's prompt is left of the cursor on the screen the terminal shows (the
        attach may deliver it live, or as a snapshot that places the cursor after it)."""
        screen = Screen(100, 30)
        screen.feed(seen.partition(b"Detach: Ctrl-] d")[2])
        x, y = screen.cursor
        return bool(re.search(r"[$#%>] ?$", screen.display()[y][:x]))

    try:
        until(b"Detach: Ctrl-] d")
        # The login shell's start-up may reset the terminal, which drops what was typed
        # ahead: type once its prompt is there.
        until(prompted)
        process.write(b"echo in-the-$((2*21))-shell\r")
        until(b"in-the-42-shell")
        process.write(b"\x1dd")
        until(b"[loopsy] detached")
        process.wait()
        assert process.exitstatus == 0
    finally:
        if process.isalive():
            process.kill(9)
    listed = json.loads(cli("session", "list", "--json").stdout)
    assert [(s["name"], s["state"], s["agent"]) for s in listed] == [("work", "running", "shell")]
    assert listed[0]["cols"] == 100 and listed[0]["rows"] == 30
    human = cli("session", "list").stdout
    assert "work" in human and "running" in human
    killed = json.loads(cli("session", "kill", "work", "--json").stdout)
    assert killed["state"] == "exited"
    cli("session", "rm", "work")
    assert json.loads(cli("session", "list", "--json").stdout) == []


def test_cli_errors_are_clear(cli: Cli) -> None:
    cli("start", "--port", "0")
    missing = cli("session", "kill", "ghost", check=False)
    assert missing.returncode == 1 and "no session 'ghost'" in missing.stderr
    assert "hint:" in missing.stderr
    bad = cli("session", "new", "--size", "wide", check=False)
    assert bad.returncode == 1 and "COLSxROWS" in bad.stderr
    assert "Ctrl-] then d" in cli("shell", "--help").stdout
    assert cli("approvals", "list").stdout.startswith("Nothing waits")
    agents = json.loads(cli("agents", "--json").stdout)
    assert {a["name"] for a in agents} >= {"shell", "claude", "codex", "gemini", "opencode"}
