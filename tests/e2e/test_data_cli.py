"""``loopsy context``, ``loopsy files`` and ``loopsy logs`` as a user runs them, against a
real daemon process."""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopsy.config import load_config, save_config
from tests.conftest import Cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def running(cli: Cli, tmp_path: Path) -> Iterator[Cli]:
    """A daemon confined to ``tmp_path/area``, with roomy rate limits."""
    area = tmp_path / "area"
    area.mkdir()
    config = load_config(cli.home)
    config.transfer.allowed_paths = [str(area)]
    config.rate_limits.context = 10_000
    config.rate_limits.transfer = 10_000
    save_config(cli.home, config)
    cli("start", "--port", "0")
    yield cli


def test_context_round_trip(running: Cli) -> None:
    cli = running
    entry = json.loads(cli("context", "set", "inbox:b:1", "hello world", "--json").stdout)
    assert entry["key"] == "inbox:b:1" and entry["value"] == "hello world"
    assert cli("context", "get", "inbox:b:1").stdout == "hello world\n"
    assert "version" in cli("context", "set", "notes/../x", "with ttl", "--ttl", "3600").stdout
    piped = cli("context", "set", "multi", "-", input="line 1\nline 2\n")
    assert piped.returncode == 0
    multi = json.loads(cli("context", "get", "multi", "--json").stdout)
    assert multi["value"] == "line 1\nline 2\n"
    listed = json.loads(cli("context", "list", "--prefix", "inbox:", "--json").stdout)
    assert [e["key"] for e in listed["entries"]] == ["inbox:b:1"]
    table = cli("context", "list").stdout
    assert "KEY" in table and "notes/../x" in table and "in 59m" in table

    dup = cli("context", "set", "inbox:b:1", "again", "--if-absent", check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    stale = cli("context", "set", "inbox:b:1", "x", "--if-version", "999", check=False)
    assert stale.returncode == 1 and "not 999" in stale.stderr

    assert "deleted" in cli("context", "rm", "inbox:b:1").stdout
    missing = cli("context", "get", "inbox:b:1", check=False)
    assert missing.returncode == 1
    assert "no context key 'inbox:b:1'" in missing.stderr and "hint:" in missing.stderr
    bad = cli("context", "set", "a\tb", "v", check=False)
    assert bad.returncode == 1 and "control character" in bad.stderr


def test_context_list_pages(running: Cli) -> None:
    for i in range(5):
        running("context", "set", f"p:{i}", str(i))
    first = running("context", "list", "--prefix", "p:", "--limit", "3")
    assert "p:2" in first.stdout and "p:3" not in first.stdout
    assert "--after p:2" in first.stderr
    rest = json.loads(
        running("context", "list", "--prefix", "p:", "--after", "p:2", "--json").stdout
    )
    assert [e["key"] for e in rest["entries"]] == ["p:3", "p:4"]


def test_files_round_trip(running: Cli, tmp_path: Path) -> None:
    cli = running
    area = tmp_path / "area"
    local = tmp_path / "report.bin"
    data = os.urandom(300_000)
    local.write_bytes(data)
    pushed = json.loads(cli("files", "push", str(local), f"{area}/", "--json").stdout)
    assert pushed["path"] == str(area / "report.bin") and pushed["created"] is True
    assert pushed["sha256"] == hashlib.sha256(data).hexdigest()

    again = cli("files", "push", str(local), str(area / "report.bin"), check=False)
    assert again.returncode == 1
    assert "already exists" in again.stderr and "--overwrite" in again.stderr
    assert "replaced" in cli("files", "push", "-f", str(local), str(area / "report.bin")).stdout

    listing = json.loads(cli("files", "ls", str(area), "--json").stdout)
    assert [(e["name"], e["size"]) for e in listing["entries"]] == [("report.bin", 300_000)]
    assert "report.bin" in cli("files", "ls", str(area)).stdout

    out = tmp_path / "out"
    out.mkdir()
    pulled = json.loads(cli("files", "pull", str(area / "report.bin"), str(out), "--json").stdout)
    assert (out / "report.bin").read_bytes() == data
    assert pulled["sha256"] == pushed["sha256"]
    exists = cli("files", "pull", str(area / "report.bin"), str(out), check=False)
    assert exists.returncode == 1 and "already exists" in exists.stderr

    # A relative remote path is taken from the current directory, as a user expects.
    relative = subprocess.run(
        [sys.executable, "-m", "loopsy", "files", "ls", "."],
        cwd=area, env=cli.env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert relative.returncode == 0 and "report.bin" in relative.stdout


def test_files_refusals_are_clear(running: Cli, tmp_path: Path) -> None:
    cli = running
    outside = cli("files", "ls", "/etc", check=False)
    assert outside.returncode == 1
    assert "outside the allowed paths" in outside.stderr and "allowedPaths" in outside.stderr
    config = cli("files", "pull", str(cli.home.config_file), str(tmp_path / "c"), check=False)
    assert config.returncode == 1 and "outside the allowed paths" in config.stderr
    missing = cli(
        "files", "push", str(tmp_path / "nope"), str(tmp_path / "area" / "x"), check=False
    )
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    assert "Traceback" not in outside.stderr + config.stderr + missing.stderr


def test_logs_show_what_happened(running: Cli) -> None:
    running("context", "set", "k", "v")
    running("context", "get", "nope", check=False)
    records = json.loads(running("logs", "-n", "50", "--json").stdout)
    paths = [(r["method"], r["path"], r["status"]) for r in records if "method" in r]
    assert ("PUT", "/api/v1/context/k", 200) in paths
    assert ("GET", "/api/v1/context/nope", 404) in paths
    errors = running("logs", "--errors").stdout
    assert "/api/v1/context/nope" in errors and "/api/v1/context/k " not in errors


def test_logs_never_let_a_logged_path_drive_the_terminal(running: Cli) -> None:
    """Anyone reaching the TCP port is logged, key or not: escape sequences and newlines
    in the path they sent are shown escaped, not obeyed or taken for another record."""
    import http.client

    status = json.loads(running("status", "--json").stdout)
    address = next(x["address"] for x in status["listeners"] if x["kind"] == "tcp")
    host, _, port = address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/api/v1/context/%1b%5b31mRED%0a2099-01-01%20FAKE")
        assert connection.getresponse().status == 401
    finally:
        connection.close()
    shown = running("logs", "--errors").stdout
    assert "\x1b" not in shown and "\\x1b[31mRED\\n2099-01-01 FAKE  401" in shown
    assert not any(line.startswith("2099") for line in shown.splitlines())


def read_line_until(proc: subprocess.Popen[str], needle: str, timeout: float = 20) -> str:
    """Lines from ``proc.stdout`` until one contains ``needle`` (bounded in time)."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            continue
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} never came; got {seen}")


def test_logs_follow_live_and_ctrl_c_ends_cleanly(running: Cli) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopsy", "logs", "-f", "-n", "0", "--json", "--path",
         "/api/v1/context/"],
        env=running.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # Keep writing until the follower shows one: it subscribes once connected.
        deadline = time.monotonic() + 20
        line = ""
        for i in range(200):
            running("context", "set", f"live-{i}", "v")
            try:
                line = read_line_until(proc, "/api/v1/context/live-", timeout=0.5)
                break
            except AssertionError:
                assert time.monotonic() < deadline
        record = json.loads(line)
        assert record["method"] == "PUT" and record["caller"] == "local:local"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in stderr


def test_logs_follow_ends_when_the_daemon_stops(running: Cli) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopsy", "logs", "-f", "-n", "1"],
        env=running.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        read_line_until(proc, "/api/v1/")
        running("stop")
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert "closed the log stream" in stderr and "Traceback" not in stderr
