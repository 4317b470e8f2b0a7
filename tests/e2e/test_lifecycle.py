"""The real ``loopsy`` command: init, start, status, stop, as a user runs them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.e2e


def test_start_status_stop(cli: Cli) -> None:
    started = cli("start", "--port", "0")
    assert "started" in started.stdout
    status = json.loads(cli("status", "--json").stdout)
    assert status["running"] is True
    pid = status["pid"]
    os.kill(pid, 0)
    assert stat.S_IMODE(cli.home.socket.stat().st_mode) == 0o600
    assert cli.home.pid_file.read_text().strip() == str(pid)

    again = cli("start", "--port", "0")
    assert "already running" in again.stdout
    assert f"pid {pid}" in again.stdout

    human = cli("status").stdout
    assert "pid:" in human and "uptime:" in human and "http://127.0.0.1:" in human

    stopped = cli("stop")
    assert f"stopped (pid {pid})" in stopped.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    gone = cli("status", check=False)
    assert gone.returncode == 3
    assert "not running" in gone.stdout
    assert json.loads(cli("status", "--json", check=False).stdout) == {"running": False}
    assert not cli.home.socket.exists()


def test_init_is_idempotent_and_force_keeps_node(cli: Cli) -> None:
    first = json.loads(cli("init", "--json").stdout)
    key = cli.home.config_file.read_text()
    second = json.loads(cli("init", "--json").stdout)
    assert second["created"] is False
    assert cli.home.config_file.read_text() == key
    forced = json.loads(cli("init", "--force", "--json").stdout)
    assert forced["created"] is True
    assert forced["node_id"] == first["node_id"]
    assert cli.home.config_file.read_text() != key


def test_bad_config_fails_start_naming_the_key(cli: Cli) -> None:
    text = cli.home.config_file.read_text().replace("maxConcurrent", "maxConcurent")
    cli.home.config_file.write_text(text)
    result = cli("start", "--port", "0", check=False)
    assert result.returncode == 1
    assert "execution.maxConcurent: unknown key" in result.stderr
    assert "hint:" in result.stderr


def test_port_in_use_is_a_clear_error(cli: Cli) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = cli("start", "--port", str(port), check=False)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "in use" in result.stderr
    assert "loopsy start --port N" in result.stderr  # the daemon's own hint, passed on


def test_starting_at_the_same_time_says_already_running(cli: Cli) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: cli("start", "--port", "0", check=False), range(3)))
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    pid = json.loads(cli("status", "--json").stdout)["pid"]
    assert all(f"pid {pid}" in r.stdout for r in results)
    assert sum("started" in r.stdout for r in results) == 1
    assert sum("already running" in r.stdout for r in results) == 2


def test_sigterm_shuts_down_cleanly(cli: Cli) -> None:
    cli("start", "--port", "0")
    pid = json.loads(cli("status", "--json").stdout)["pid"]
    os.kill(pid, signal.SIGTERM)
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and cli("status", check=False).returncode == 0:
        time.sleep(0.05)
    assert cli("status", check=False).returncode == 3
    assert "signal SIGTERM" in cli.home.daemon_log.read_text()


def test_stop_ends_a_daemon_that_does_not_answer(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stuck daemon (here: stopped with SIGSTOP) cannot say its pid: `loopsy stop`
    takes it from the pid file, and kills it when SIGTERM is not enough."""
    from loopsy.cli import lifecycle
    from loopsy.cli.main import main

    cli("start", "--port", "0")
    pid = json.loads(cli("status", "--json").stdout)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        monkeypatch.setattr("loopsy.client.probe.TIMEOUT", 0.5)
        monkeypatch.setattr(lifecycle, "STOP_TIMEOUT", 1.0)
        assert main(["status"]) == 1
        assert "loopsy stop" in capsys.readouterr().err  # the hint
        assert main(["stop"]) == 1
        err = capsys.readouterr().err
        assert f"the daemon (pid {pid}) did not stop within 1 s and was killed" in err
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)  # if the test failed before the kill
    assert cli("status", check=False).returncode == 3
    cli("start", "--port", "0")  # the stale socket and pid file are no obstacle
