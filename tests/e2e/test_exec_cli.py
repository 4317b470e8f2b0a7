"""`loopsy exec` and `loopsy jobs` as a user runs them: a real daemon, real processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopsy.config import default_config, save_config
from loopsy.home import LoopsyHome
from tests.conftest import Cli

pytestmark = pytest.mark.e2e

WAIT = 30


@pytest.fixture(scope="module")
def running() -> Iterator[Cli]:
    """One daemon for this module's tests (each start costs seconds); they run in turn and
    leave no job behind, and together stay under the 30 executes a minute."""
    root = Path(tempfile.mkdtemp(prefix="lx-", dir="/tmp"))
    home = LoopsyHome(root / "home")
    save_config(home, default_config(home))
    runner = Cli(home)
    runner("start", "--port", "0")
    yield runner
    runner("stop", check=False)
    shutil.rmtree(root, ignore_errors=True)


def read_fifo(path: Path) -> str:
    # Blocks until the command writes: the event the test waits for.
    with open(path, encoding="utf-8") as f:
        return f.read()


class FifoReader:
    """Reads a FIFO in a thread, started *before* the action that makes the command write
    (a writer blocks until a reader opens the FIFO, and may be killed while it waits)."""

    def __init__(self, path: Path) -> None:
        self.text: str | None = None
        self._thread = threading.Thread(target=self._read, args=(path,), daemon=True)
        self._thread.start()

    def _read(self, path: Path) -> None:
        self.text = read_fifo(path)

    def result(self) -> str | None:
        self._thread.join(WAIT)
        return self.text


def test_streams_to_the_right_fds_and_exits_with_the_code(running: Cli) -> None:
    result = running("exec", "--", "sh", "-c", "echo out; echo err >&2; exit 7", check=False)
    assert result.returncode == 7
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"


def test_denied_command_is_refused_clearly(running: Cli, tmp_path: Path) -> None:
    victim = tmp_path / "x"
    victim.mkdir()
    result = running("exec", "--", "rm", "-rf", str(victim), check=False)
    assert result.returncode == 1
    assert "refused: `rm` is on execution.denylist" in result.stderr
    assert "hint:" in result.stderr and "guard rail" in result.stderr
    assert victim.exists()
    through = running("exec", "--shell", "--", f"ls; xargs rm < /dev/null {victim}", check=False)
    assert through.returncode == 1 and "run through sh → xargs" in through.stderr


def test_exit_statuses(running: Cli, tmp_path: Path) -> None:
    assert running("exec", "--", "sh", "-c", "kill -9 $$", check=False).returncode == 137
    timed = running("exec", "--timeout", "0.5", "--", "sleep", "300", check=False)
    assert timed.returncode == 124 and "timed out" in timed.stderr
    missing = running("exec", "--", "no-such-program-here", check=False)
    assert missing.returncode == 1 and "no executable program" in missing.stderr
    nodir = running("exec", "--cwd", str(tmp_path / "nope"), "--", "ls", check=False)
    assert nodir.returncode == 1 and "no such directory" in nodir.stderr
    empty = running("exec", check=False)
    assert empty.returncode == 1 and "no command given" in empty.stderr


def test_options(running: Cli, tmp_path: Path) -> None:
    command = ["sh", "-c", 'echo "$PWD $A $B"']
    out = running("exec", "--cwd", str(tmp_path), "--env", "A=1", "--env", "B=x=y", "--", *command)
    assert out.stdout == f"{tmp_path} 1 x=y\n"
    assert running("exec", "--shell", "--", "echo $((6*7)) | tr 4 x").stdout == "x2\n"
    assert running("exec", "--stdin", "--", "wc", "-l", input="a\nb\nc\n").stdout.strip() == "3"
    as_json = running("exec", "--json", "--", "sh", "-c", "echo hi; exit 3", check=False)
    assert as_json.returncode == 3
    data = json.loads(as_json.stdout)
    assert data["exit_code"] == 3 and data["stdout"] == "hi\n"
    bad = running("exec", "--env", "NOEQUALS", "--", "true", check=False)
    assert bad.returncode == 1 and "NAME=VALUE" in bad.stderr


def test_default_cwd_is_the_callers(running: Cli, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loopsy", "exec", "--", "pwd"],
        env=running.env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    assert result.stdout == f"{tmp_path}\n"


def test_jobs_list_and_cancel(running: Cli, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    os.mkfifo(ready)
    command = ["sh", "-c", f"echo up > {ready}; sleep 300"]
    background = subprocess.Popen(
        [sys.executable, "-m", "loopsy", "exec", "--", *command],
        env=running.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert read_fifo(ready) == "up\n"
        [job] = json.loads(running("jobs", "--json").stdout)
        assert job["argv"][-1] == f"echo up > {ready}; sleep 300"
        listing = running("jobs").stdout
        assert job["id"] in listing and "local" in listing
        cancelled = running("jobs", "cancel", job["id"])
        assert f"Cancelled job {job['id']}" in cancelled.stdout
        _, err = background.communicate(timeout=WAIT)
        assert background.returncode == 128 + signal.SIGTERM
        assert "cancelled" in err
    finally:
        background.kill()
        background.communicate(timeout=WAIT)
    assert running("jobs").stdout.strip() == "No commands are running."
    gone = running("jobs", "cancel", job["id"], check=False)
    assert gone.returncode == 1 and "no running job" in gone.stderr


def test_ctrl_c_cancels_the_command(running: Cli, tmp_path: Path) -> None:
    ready, ended = tmp_path / "ready", tmp_path / "ended"
    os.mkfifo(ready)
    os.mkfifo(ended)
    script = f"trap 'echo ended > {ended}; exit 1' TERM; echo up > {ready}; sleep 300 & wait"
    process = subprocess.Popen(
        [sys.executable, "-m", "loopsy", "exec", "--", "sh", "-c", script],
        env=running.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert read_fifo(ready) == "up\n"
        ending = FifoReader(ended)
        process.send_signal(signal.SIGINT)
        assert ending.result() == "ended\n"  # the daemon killed the command's group
        process.communicate(timeout=WAIT)
        assert process.returncode == 130
    finally:
        process.kill()
        process.communicate(timeout=WAIT)


def test_a_closed_pipe_ends_the_command(running: Cli) -> None:
    shell = f"{sys.executable} -m loopsy exec -- yes | head -n 2; echo \"${{PIPESTATUS[0]}}\""
    result = subprocess.run(
        ["bash", "-c", shell],
        env=running.env,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    assert result.stdout == "y\ny\n141\n"


def test_stopping_the_daemon_ends_running_commands(cli: Cli, tmp_path: Path) -> None:
    cli("start", "--port", "0")
    ready, ended = tmp_path / "ready", tmp_path / "ended"
    os.mkfifo(ready)
    os.mkfifo(ended)
    script = f"trap 'echo ended > {ended}; exit 1' TERM; echo up > {ready}; sleep 300 & wait"
    process = subprocess.Popen(
        [sys.executable, "-m", "loopsy", "exec", "--", "sh", "-c", script],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert read_fifo(ready) == "up\n"
        ending = FifoReader(ended)
        cli("stop")
        assert ending.result() == "ended\n"
        _, err = process.communicate(timeout=WAIT)
        assert process.returncode == 1
        assert b"the daemon stopped while the command ran" in err
    finally:
        process.kill()
        process.communicate(timeout=WAIT)
