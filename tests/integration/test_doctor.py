"""`loopsy doctor`'s checks, each against a real situation: a daemon answering or not,
its port taken by another program, a relay up, down or impostor."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from loopsy.cli.doctor import CheckResult, Probe, all_checks, run_checks
from loopsy.cli.doctor_checks import check_config, check_permissions, check_port, check_relay
from loopsy.config import Config
from loopsy.home import LoopsyHome


def probe_for(home: LoopsyHome, **facts: Any) -> Probe:
    probe = Probe()
    probe.__dict__["home"] = home  # cached_property values, set as the real ones would be
    for name, value in facts.items():
        probe.__dict__[name] = value
    return probe


def set_config(home: LoopsyHome, change: Any) -> None:
    from loopsy.config import load_config, save_config

    config = load_config(home)
    change(config)
    save_config(home, config)


def test_a_fresh_home_is_healthy(home: LoopsyHome) -> None:
    from loopsy.cli import doctor_checks

    results = run_checks(probe_for(home, status=None), doctor_checks.checks)
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == ["config", "permissions", "daemon", "port", "relay"]
    assert by_name["daemon"].status == "warn" and "loopsy start" in str(by_name["daemon"].hint)
    assert all(r.status == "ok" for n, r in by_name.items() if n != "daemon"), results
    # The registry starts with these; other areas' checks come after.
    assert all_checks()[:5] == doctor_checks.checks


def test_config_errors_name_the_key(home: LoopsyHome) -> None:
    text = home.config_file.read_text().replace("maxConcurrent", "maxConcurent")
    home.config_file.write_text(text)
    result = check_config(probe_for(home))
    assert result.status == "fail"
    assert "execution.maxConcurent: unknown key" in result.message and result.hint


def test_loose_permissions_fail_with_the_fix(home: LoopsyHome) -> None:
    os.chmod(home.root, 0o755)
    os.chmod(home.config_file, 0o644)
    (home.logs_dir / "extra.log").write_text("x")
    os.chmod(home.logs_dir / "extra.log", 0o640)
    result = check_permissions(probe_for(home))
    assert result.status == "fail"
    assert f"{home.root} is mode 0755" in result.message
    assert f"{home.config_file} is mode 0644" in result.message
    assert "extra.log (0640)" in result.message
    assert f"chmod 700 {home.root}" in str(result.hint)
    assert f"chmod 600 {home.config_file}" in str(result.hint)
    assert f"chmod -R go-rwx {home.root}" in str(result.hint)


def test_a_crashing_check_is_reported_alone(home: LoopsyHome) -> None:
    def check_broken(probe: Probe) -> CheckResult:
        raise RuntimeError("boom")

    results = run_checks(probe_for(home), [check_broken, check_config])
    failed = CheckResult("broken", "fail", "the check itself failed: RuntimeError('boom')")
    assert results[0] == failed
    assert results[1].status == "ok"


def test_port_taken_by_another_program(
    home: LoopsyHome, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The squatter accepts but never answers: the check gives up after its timeout.
    monkeypatch.setattr("loopsy.cli.doctor_checks.CONNECT_TIMEOUT", 0.3)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(8)
        port = busy.getsockname()[1]
        set_config(home, lambda c: setattr(c.server, "port", port))
        result = check_port(probe_for(home, status=None))
    assert result.status == "fail"
    assert f"another program listens on port {port}" in result.message
    assert "loopsy start --port N" in str(result.hint)
    free = check_port(probe_for(home, status=None))  # closed now
    assert free.status == "ok" and f"{port} is free" in free.message


class _Server:
    """A small HTTP server on 127.0.0.1 answering GET /v1/health with what a test says."""

    def __init__(self, status: int, body: Any) -> None:
        answer = (status, json.dumps(body).encode() if body is not None else b"<html>")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, data = answer if self.path == "/v1/health" else (404, b"{}")
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def relay_server(request: pytest.FixtureRequest) -> Iterator[_Server]:
    status, body = request.param
    server = _Server(status, body)
    yield server
    server.close()


@pytest.mark.parametrize(
    ("relay_server", "outcome", "fragment"),
    [
        ((200, {"ok": True, "service": "loopsy-relay", "version": "9.9"}), "ok", "version 9.9"),
        ((503, {"ok": False, "service": "loopsy-relay", "error": {"message": "no secret"}}),
         "fail", "not ready (HTTP 503): no secret"),
        ((200, {"service": "something-else"}), "fail", "not as a Loopsy relay"),
        ((200, None), "fail", "not as a Loopsy relay"),
    ],
    indirect=["relay_server"],
)  # fmt: skip
def test_relay(home: LoopsyHome, relay_server: _Server, outcome: str, fragment: str) -> None:
    set_config(home, lambda c: setattr(c.relay, "url", relay_server.url))
    result = check_relay(probe_for(home))
    assert result.status == outcome and fragment in result.message, result


def test_relay_unreachable_and_unset(home: LoopsyHome) -> None:
    assert check_relay(probe_for(home)).message.startswith("not configured")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # bound, never listening: connections are refused
        set_config(home, lambda c: setattr(c.relay, "url", f"http://127.0.0.1:{dead}"))
        result = check_relay(probe_for(home))
    assert result.status == "fail" and "cannot reach" in result.message
    assert "relay.url" in str(result.hint)


def test_a_daemon_that_does_not_answer_fails_with_the_fix(
    home: LoopsyHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A socket that accepts but never answers (a stuck daemon): one failure, with the
    way out, not a crash of every check that asks the daemon."""
    import httpx

    from loopsy.client import LoopsyClient
    from loopsy.client.connection import UnixConnection

    def local(cls: type[LoopsyClient], h: LoopsyHome | None = None) -> LoopsyClient:
        return cls(UnixConnection((h or home).socket), timeout=httpx.Timeout(0.3))

    monkeypatch.setattr(LoopsyClient, "local", classmethod(local))
    with socket.socket(socket.AF_UNIX) as stuck:
        stuck.bind(str(home.socket))
        stuck.listen(8)
        results = {r.name: r for r in run_checks(Probe(), all_checks())}
    daemon = results["daemon"]
    assert daemon.status == "fail" and "did not answer in time" in daemon.message
    assert "loopsy stop" in str(daemon.hint)
    assert results["port"].status == "warn"
    assert "not running" not in results["peers"].message  # it runs; it does not answer
    assert not any("the check itself failed" in r.message for r in results.values())
