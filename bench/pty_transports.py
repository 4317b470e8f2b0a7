"""The transports bench/pty.py compares. Each opens a session running a shell command in
a PTY and moves its bytes; sync ones are driven by blocking reads, async ones by anyio.

Every process a transport starts is ended by its ``stop()``; connections by ``close()``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ptyprocess import PtyProcess

from bench.pty_measure import WORKLOAD_NAMES, descendants

COLS, ROWS = 80, 24


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def end_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class SyncConn:
    """A session read with select + os.read on one fd."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, timeout: float) -> bytes | None:
        """Bytes, b"" at end of stream, None if nothing came within ``timeout``."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return None
        try:
            return os.read(self.fd, 65536)
        except OSError:  # EIO: the PTY's other side is gone
            return b""

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def pids(self) -> list[int]:
        return []

    def close(self) -> None:
        raise NotImplementedError


class RawConn(SyncConn):
    def __init__(self, command: str) -> None:
        self.proc = PtyProcess.spawn(["sh", "-c", command], dimensions=(ROWS, COLS))
        super().__init__(self.proc.fd)

    def close(self) -> None:
        self.proc.terminate(force=True)


class Raw:
    """The limit: ptyprocess in this process, a blocking read loop."""

    name = "raw PTY read"
    kind = "sync"
    note = ""

    def start(self) -> None: ...
    def stop(self) -> None: ...

    def open(self, command: str) -> SyncConn:
        return RawConn(command)

    def server_pids(self) -> list[int]:
        return []


class RawAsync:
    """The same PTY read through asyncio's read pipe."""

    name = "raw, asyncio read pipe"
    kind = "async"
    note = ""

    def start(self) -> None: ...
    def stop(self) -> None: ...

    def server_pids(self) -> list[int]:
        return []


class SshConn(SyncConn):
    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=0)
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.stdin = self.proc.stdin.fileno()
        super().__init__(self.proc.stdout.fileno())

    def write(self, data: bytes) -> None:
        os.write(self.stdin, data)

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def close(self) -> None:
        end_process(self.proc)


class OpenSsh:
    """sshd -D on 127.0.0.1 with a generated host key and a temporary authorized key."""

    name = "OpenSSH on loopback"
    kind = "sync"

    def __init__(self) -> None:
        self.note = ""
        self.dir = Path(tempfile.mkdtemp(prefix="loopsy-bench-ssh-"))
        self.port = free_port()
        self.sshd: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> str | None:
        """None when usable, else why not."""
        if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
            return "sshd not installed (run with --install-prereqs: apt-get install openssh-server)"
        return None

    def start(self) -> None:
        d = self.dir
        for key in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)],
                           check=True, timeout=30)
        shutil.copy(d / "client.pub", d / "authorized_keys")
        user = os.environ.get("USER") or "root"
        (d / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {d}/host\n"
            f"PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            f"StrictModes no\nPermitRootLogin yes\nAllowUsers {user}\nPrintMotd no\n"
            "UseDNS no\nCompression no\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        self.sshd = subprocess.Popen([sshd, "-D", "-e", "-f", str(d / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 10)

    def open(self, command: str) -> SshConn:
        user = os.environ.get("USER") or "root"
        return SshConn([
            "ssh", "-F", "/dev/null", "-i", str(self.dir / "client"), "-p", str(self.port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "Compression=no", "-tt", f"{user}@127.0.0.1", command,
        ])

    def server_pids(self) -> list[int]:
        if self.sshd is None:
            return []
        return descendants(self.sshd.pid, WORKLOAD_NAMES)

    def stop(self) -> None:
        end_process(self.sshd)
        shutil.rmtree(self.dir, ignore_errors=True)


class TtydConn:
    """ttyd's WebSocket protocol: subprotocol "tty", a JSON hello, '0'-prefixed data."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(url, subprotocols=["tty"], compression=None)  # type: ignore[list-item]
        self.ws.send(json.dumps({"AuthToken": "", "columns": COLS, "rows": ROWS}).encode())

    def read(self, timeout: float) -> bytes | None:
        from websockets.exceptions import ConnectionClosed

        try:
            message: Any = self.ws.recv(timeout)
        except TimeoutError:
            return None
        except ConnectionClosed:
            return b""
        raw = message.encode() if isinstance(message, str) else message
        return raw[1:] if raw[:1] == b"0" else self.read(timeout)

    def write(self, data: bytes) -> None:
        self.ws.send(b"0" + data)

    def pids(self) -> list[int]:
        return []

    def close(self) -> None:
        self.ws.close()


class Ttyd:
    """ttyd from PATH (not installable here: skipped unless a binary is provided)."""

    name = "ttyd"
    kind = "sync"

    def __init__(self) -> None:
        self.note = ""
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> str | None:
        if shutil.which("ttyd"):
            return None
        return "no ttyd binary on PATH (not in Debian 12, PyPI or npm)"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["ttyd", "-p", str(self.port), "-i", "lo", "-a", "-W", "sh", "-c"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 10)

    def open(self, command: str) -> TtydConn:
        return TtydConn(f"ws://127.0.0.1:{self.port}/ws?arg={quote(command)}")

    def server_pids(self) -> list[int]:
        return [] if self.proc is None else descendants(self.proc.pid, WORKLOAD_NAMES)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        end_process(self.proc)
