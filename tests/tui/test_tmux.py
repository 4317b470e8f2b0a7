"""End to end: `loopsy tui` in tmux against a real daemon process, driven by send-keys
and read with capture-pane: list sessions, attach to a running shell, type `echo hi` and
see the output, approve an auto-approve request."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from loopsy.client import LoopsyClient
from loopsy.home import LoopsyHome
from tests.conftest import Cli
from tests.tui.test_daemon import FAKE_CLAUDE

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    def __init__(self, name: str, socket: Path) -> None:
        self.name = name
        self.base = ["tmux", "-S", str(socket)]

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=20, check=True
        )
        return done.stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def wait(self, check: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")
            time.sleep(0.05)


@pytest.fixture
def tmux(home: LoopsyHome, cli: Cli, tmp_path: Path) -> Iterator[Tmux]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    claude = bin_dir / "claude"
    claude.write_text(FAKE_CLAUDE)
    claude.chmod(claude.stat().st_mode | stat.S_IXUSR)
    cli.env["PATH"] = f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    cli("start", "--port", "0")
    session = Tmux("tui", tmp_path / "tmux.sock")
    command = (
        f"env LOOPSY_HOME={home.root} PATH={cli.env['PATH']} TERM=xterm-256color "
        f"{sys.executable} -m loopsy tui"
    )
    session.run("new-session", "-d", "-s", "tui", "-x", "120", "-y", "36", command)
    session.run("set-option", "-t", "tui", "window-size", "manual")
    session.run("resize-window", "-t", "tui", "-x", "120", "-y", "36")
    try:
        yield session
    finally:
        subprocess.run([*session.base, "kill-server"], capture_output=True, timeout=20)


def with_client(home: LoopsyHome, call: Callable[[LoopsyClient], object]) -> object:
    async def run() -> object:
        async with LoopsyClient.local(home) as client:
            return await call(client)  # type: ignore[misc]

    return anyio.run(run)


def test_tui_in_tmux(home: LoopsyHome, cli: Cli, tmux: Tmux) -> None:
    cli("session", "new", "--name", "shell-a", "--cwd", "/tmp", "--env", "PS1=$ ", "--", "sh")
    tmux.wait(lambda s: "shell-a" in s and "running" in s, "the session list")

    tmux.keys("Enter")  # the list has focus: attach to the selected session
    tmux.wait(lambda s: "╭─ shell-a" in s and "$ " in s, "the pane with the prompt")
    tmux.keys("echo hi", "Enter")
    screen = tmux.wait(lambda s: "│hi " in s, "the output of echo hi")
    assert "│$ echo hi" in screen

    cli("stop")  # the session outlives the daemon; the pane attaches again, resuming
    cli("start", "--port", "0")
    tmux.keys("echo back", "Enter")
    screen = tmux.wait(lambda s: "│back " in s, "output after the daemon's restart")
    assert screen.count("│hi ") == 1  # resumed at its offset: nothing shown twice

    tmux.keys("C-]")  # back to the list: keys reach the dashboard again
    with_client(
        home,
        lambda c: c.sessions.create("claude", cwd="/tmp", name="fixer", auto_approve=True),
    )
    tmux.wait(lambda s: "1 approval waiting" in s, "the request, live")
    tmux.keys("4")
    tmux.wait(lambda s: "asks to run claude --dangerously-skip-permissions" in s, "the tab")
    tmux.keys("a")
    tmux.wait(lambda s: "Allow [y]" in s, "the confirmation")
    tmux.keys("y")
    tmux.wait(lambda s: "4 Approvals (1)" not in s and "allowed" in s, "the decision")
    info = with_client(home, lambda c: c.sessions.get("fixer"))
    assert info.auto_approve == "on"  # type: ignore[attr-defined]

    tmux.keys("C-q")
    deadline = time.monotonic() + 10
    while "loopsy tui" in tmux.run("list-panes", "-a", "-F", "#{pane_current_command}"):
        assert time.monotonic() < deadline, "the dashboard did not quit"
        time.sleep(0.05)
