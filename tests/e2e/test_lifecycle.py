"""The real ``loopsy`` command: init, start, status, stop, as a user runs them."""

from __future__ import annotations

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
