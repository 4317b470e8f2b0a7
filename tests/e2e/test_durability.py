"""Nothing acknowledged is lost when the daemon is SIGKILLed at any moment, and a killed
file transfer leaves the old file as it was."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from loopsy.config import load_config, save_config
from tests.conftest import Cli

pytestmark = pytest.mark.e2e

ROUNDS = 5


def daemon_pid(cli: Cli) -> int:
    return int(json.loads(cli("status", "--json").stdout)["pid"])


def wait_dead(pid: int, timeout: float = 20) -> None:
    """Until ``pid`` is gone or a zombie (a SIGKILLed daemon is not our child to reap)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in "ZX":
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} still alive after SIGKILL")


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over the daemon's unix socket. (httpx's sync transport leaks the
    socket when a connect fails, which this test provokes on purpose.)"""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(30)
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def call(conn: UnixHTTPConnection, method: str, url: str, body: object = None) -> tuple[int, str]:
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    conn.request(method, "/api/v1" + url, body=payload, headers=headers)
    response = conn.getresponse()
    return response.status, response.read().decode()


@dataclass
class Writer:
    """Writes keys over the unix socket, recording each write the daemon acknowledged."""

    socket_path: str
    name: str
    rng: random.Random
    acked: dict[str, str] = field(default_factory=dict)
    pending: tuple[str, str] | None = None  # the write in flight when the daemon died
    count: int = 0
    progress: threading.Condition = field(default_factory=threading.Condition)

    def run(self, round_no: int, stop: threading.Event) -> None:
        conn = UnixHTTPConnection(self.socket_path)
        try:
            for i in range(100_000):  # bounded; SIGKILL ends it long before
                if stop.is_set():
                    return
                mine = [k for k in self.acked if k.startswith(f"{self.name}-")]
                key = (
                    self.rng.choice(mine)  # an overwrite now and then
                    if mine and i % 5 == 4
                    else f"{self.name}-r{round_no}-{i}"
                )
                value = f"{key}@{i}:" + "x" * self.rng.randint(0, 2000)
                self.pending = (key, value)
                try:
                    status, text = call(
                        conn, "PUT", "/context/" + urllib.parse.quote(key, safe=""),
                        {"value": value},
                    )
                except (OSError, http.client.HTTPException):
                    return  # the daemon died mid-request: this write is unknown
                assert status == 200, text
                self.acked[key] = value
                self.pending = None
                with self.progress:
                    self.count += 1
                    self.progress.notify_all()
        finally:
            conn.close()

    def settle(self, stored: dict[str, str]) -> None:
        """Fold the write whose answer the kill swallowed into what we know: the store
        holds either it or the value before it, and both are acceptable; from now on only
        the stored one is."""
        if self.pending is not None:
            key, _ = self.pending
            if key in stored:
                self.acked[key] = stored[key]
            self.pending = None

    def wait_for(self, count: int, timeout: float = 30) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: self.count >= count, timeout), self.count


def stored_entries(socket_path: str) -> dict[str, str]:
    conn = UnixHTTPConnection(socket_path)
    found: dict[str, str] = {}
    after: str | None = None
    try:
        for _ in range(10_000):
            params = {"limit": "1000", **({"after": after} if after else {})}
            status, text = call(conn, "GET", "/context?" + urllib.parse.urlencode(params))
            assert status == 200, text
            page = json.loads(text)
            found.update({e["key"]: e["value"] for e in page["entries"]})
            after = page["next_after"]
            if after is None:
                return found
    finally:
        conn.close()
    raise AssertionError("listing did not end")


def check(writers: list[Writer], stored: dict[str, str]) -> None:
    for writer in writers:
        for key, value in writer.acked.items():
            allowed = {value}
            if writer.pending is not None and writer.pending[0] == key:
                allowed.add(writer.pending[1])  # committed just before the kill, unanswered
            assert stored.get(key) in allowed, f"acknowledged write of {key} lost"


@pytest.mark.slow
def test_acknowledged_context_writes_survive_sigkill(cli: Cli) -> None:
    config = load_config(cli.home)
    config.rate_limits.context = 1_000_000
    save_config(cli.home, config)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    socket_path = str(cli.home.socket)
    writers = [Writer(socket_path, name, random.Random(rng.random())) for name in ("a", "b")]
    for round_no in range(ROUNDS):
        cli("start", "--port", "0")
        stored = stored_entries(socket_path)
        check(writers, stored)
        for writer in writers:
            writer.settle(stored)
        pid = daemon_pid(cli)
        stop = threading.Event()
        threads = [
            threading.Thread(target=w.run, args=(round_no, stop), daemon=True) for w in writers
        ]
        for thread in threads:
            thread.start()
        target = writers[0].count + rng.randint(20, 300)
        writers[0].wait_for(target)
        os.kill(pid, signal.SIGKILL)  # mid-stream: both writers have requests in flight
        wait_dead(pid)
        for thread in threads:
            thread.join(timeout=30)
            assert not thread.is_alive()
    cli("start", "--port", "0")
    stored = stored_entries(socket_path)
    check(writers, stored)
    total = sum(len(w.acked) for w in writers)
    assert total >= ROUNDS * 20, f"seed {seed}"
    cli("stop")
    with sqlite3.connect(cli.home.database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        count = db.execute("SELECT count(*) FROM context").fetchone()[0]
    assert count == len(stored)


def test_killed_push_leaves_the_old_file(cli: Cli, tmp_path: Path) -> None:
    area = tmp_path / "area"
    area.mkdir()
    target = area / "data.bin"
    target.write_bytes(b"old content")
    config = load_config(cli.home)
    config.transfer.allowed_paths = [str(area)]
    save_config(cli.home, config)
    cli("start", "--port", "0")
    pid = daemon_pid(cli)
    head = (
        f"PUT /api/v1/files/content?path={target}&overwrite=true HTTP/1.1\r\n"
        "Host: localhost\r\nContent-Length: 50000000\r\n\r\n"
    ).encode()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(cli.home.socket))
        sock.sendall(head + b"n" * (4 << 20))
        # Until the daemon holds the half-written file open (an unnamed O_TMPFILE).
        deadline = time.monotonic() + 20
        while not any(
            os.readlink(fd).startswith(f"{area}/") for fd in Path(f"/proc/{pid}/fd").iterdir()
            if fd.is_symlink()
        ):
            assert time.monotonic() < deadline, "the daemon never opened the temp file"
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    assert target.read_bytes() == b"old content"
    assert [p.name for p in area.iterdir()] == ["data.bin"]
    cli("start", "--port", "0")  # and the daemon comes back
    assert "data.bin" in cli("files", "ls", str(area)).stdout
