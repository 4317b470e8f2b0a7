"""`loopsy key`, `loopsy doctor`, `loopsy enable|disable` as a user runs them."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from pathlib import Path

import httpx
import pytest

from loopsy.cli.autostart import instance_suffix
from tests.conftest import Cli

pytestmark = pytest.mark.e2e


def tcp_status(port: int, key: str) -> int:
    response = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/status",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    return response.status_code


def tcp_port(cli: Cli) -> int:
    status = json.loads(cli("status", "--json").stdout)
    address = next(x["address"] for x in status["listeners"] if x["kind"] == "tcp")
    return int(address.rsplit(":", 1)[1])


def test_key_generate_with_a_running_daemon(cli: Cli) -> None:
    cli("start", "--port", "0")
    port = tcp_port(cli)
    old = cli("key", "show").stdout.strip()
    assert tcp_status(port, old) == 200
    generated = cli("key", "generate")
    new = generated.stdout.strip()
    assert "in force now" in generated.stderr
    assert new != old and tcp_status(port, old) == 401 and tcp_status(port, new) == 200
    assert cli("key", "show").stdout.strip() == new
    shown = json.loads(cli("key", "show", "--json").stdout)
    assert shown == {"api_key": new, "config": str(cli.home.config_file)}
    assert stat.S_IMODE(cli.home.config_file.stat().st_mode) == 0o600


def test_key_generate_without_a_daemon_rewrites_the_config(cli: Cli) -> None:
    before = cli.home.config_file.read_text()
    result = json.loads(cli("key", "generate", "--json").stdout)
    assert result["daemon_running"] is False
    after = cli.home.config_file.read_text()
    assert result["api_key"] in after and result["api_key"] not in before
    assert stat.S_IMODE(cli.home.config_file.stat().st_mode) == 0o600
    assert cli("key", "show").stdout.strip() == result["api_key"]


@pytest.fixture
def fake_bin(tmp_path: Path, cli: Cli) -> Path:
    """A systemctl stand-in on PATH, and HOME/XDG_CONFIG_HOME in temp dirs, so the real
    ~/.config and the real service manager are never touched."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cli.env = {
        **cli.env,
        "PATH": f"{bin_dir}:{cli.env['PATH']}",
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }
    return bin_dir


def fake_systemctl(bin_dir: Path, *, works: bool) -> Path:
    log = bin_dir / "systemctl.log"
    if works:
        body = f'echo "$@" >> {log}\nexit 0\n'
    else:
        body = 'echo "Failed to connect to bus: No medium found" >&2\nexit 1\n'

    script = bin_dir / "systemctl"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return log


def test_enable_without_a_user_bus_writes_nothing(
    cli: Cli, fake_bin: Path, tmp_path: Path
) -> None:
    fake_systemctl(fake_bin, works=False)
    result = cli("enable", check=False)
    assert result.returncode == 1
    assert "systemd user services are not available here" in result.stderr
    assert "No medium found" in result.stderr and "nothing was written" in result.stderr
    assert "hint:" in result.stderr
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "home").exists()


def test_enable_dry_run_enable_disable(cli: Cli, fake_bin: Path, tmp_path: Path) -> None:
    log = fake_systemctl(fake_bin, works=True)
    # This test's LOOPSY_HOME is not the default one: its service has a name of its own.
    name = "loopsy" + instance_suffix(cli.home.root, Path.home().absolute() / ".loopsy")
    assert name != "loopsy"
    unit = tmp_path / "xdg" / "systemd" / "user" / f"{name}.service"
    dry = cli("enable", "--dry-run")
    assert f"Would write {unit}:" in dry.stdout
    assert f'ExecStart="{sys.executable}" "-m" "loopsy" "start" "--foreground"' in dry.stdout
    assert f'Environment="LOOPSY_HOME={cli.home.root}"' in dry.stdout
    assert f"systemctl --user enable --now {name}.service" in dry.stdout
    assert not unit.exists() and not log.exists()
    plan = json.loads(cli("enable", "--dry-run", "--json").stdout)
    assert plan["dry_run"] is True and plan["writes"][0]["path"] == str(unit)

    cli("enable")
    assert f"ExecStart=\"{sys.executable}\"" in unit.read_text()
    assert log.read_text().splitlines() == [
        "--user show-environment",
        "--user daemon-reload",
        f"--user enable --now {name}.service",
    ]
    log.unlink()
    disabled = cli("disable")
    assert "no longer starts at login" in disabled.stderr
    assert not unit.exists()
    assert log.read_text().splitlines() == [
        "--user show-environment",
        f"--user disable --now {name}.service",
        "--user daemon-reload",
    ]
    assert "not enabled" in cli("disable").stdout


def test_doctor_green_on_a_healthy_start(cli: Cli, fake_bin: Path) -> None:
    cli("start", "--port", "0")
    result = cli("doctor")
    lines = result.stdout.splitlines()
    assert [line.split("]")[0] for line in lines[:5]] == ["[ ok "] * 5, result.stdout
    assert "[FAIL]" not in result.stdout
    assert lines[-1] == "Everything looks good." or lines[-1].startswith("No problems")
    report = json.loads(cli("doctor", "--json").stdout)
    assert report["ok"] is True
    core = report["checks"][:5]  # other areas add their checks after these
    assert [c["name"] for c in core] == ["config", "permissions", "daemon", "port", "relay"]
    assert {c["status"] for c in core} == {"ok"}
    # With the daemon already running, enable installs without starting a second one.
    log = fake_systemctl(fake_bin, works=True)
    enabled = cli("enable")
    assert "already runs" in enabled.stderr
    name = "loopsy" + instance_suffix(cli.home.root, Path.home().absolute() / ".loopsy")
    assert log.read_text().splitlines()[-1] == f"--user enable {name}.service"


def test_doctor_red_with_hints_on_a_broken_setup(cli: Cli) -> None:
    with socket.socket() as squatter, socket.socket() as dead:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(8)
        dead.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port, dead_port = squatter.getsockname()[1], dead.getsockname()[1]
        text = cli.home.config_file.read_text()
        text = text.replace("port: 19532", f"port: {port}")
        text = text.replace("url: null", f"url: http://127.0.0.1:{dead_port}")
        cli.home.config_file.write_text(text)
        os.chmod(cli.home.config_file, 0o644)
        result = cli("doctor", check=False)
    assert result.returncode == 1
    out = result.stdout
    assert "[FAIL] permissions" in out and f"chmod 600 {cli.home.config_file}" in out
    assert "[FAIL] port" in out and f"another program listens on port {port}" in out
    assert "[FAIL] relay" in out and "cannot reach" in out
    assert "[warn] daemon" in out and "loopsy start" in out
    assert out.count("hint:") >= 4
    assert out.splitlines()[-1].endswith("problems found.")
    assert json.loads(cli("doctor", "--json", check=False).stdout)["ok"] is False
