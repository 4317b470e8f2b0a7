"""`wrangler dev` running the Worker relay (relay/) on a free loopback port, offline.

Each instance has its own persistence directory (fresh Durable Objects), its own
PAIR_TOKEN_SECRET (a throwaway, passed as a dev-only --var) and the phone client from
mobile_web/dist when it is built (else an empty asset directory: /app then says so).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
RELAY_DIR = ROOT / "relay"
WRANGLER = RELAY_DIR / "node_modules" / ".bin" / "wrangler"
APP_DIR = ROOT / "mobile_web" / "dist"
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WranglerDev:
    def __init__(self, variables: dict[str, str] | None = None, *, secret: bool = True) -> None:
        self.variables = {"REGISTER_RATE": "1000", "MAX_PAIR_TTL": "600"}
        if secret:
            self.variables["PAIR_TOKEN_SECRET"] = secrets.token_urlsafe(32)
        self.variables.update(variables or {})
        self.root = Path(tempfile.mkdtemp(prefix="lw-", dir="/tmp"))
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        if not WRANGLER.exists():
            raise RuntimeError(f"{WRANGLER} is missing: run scripts/setup (npm ci in relay/)")
        # A snapshot: a rebuild of mobile_web/dist while wrangler watches it would leave
        # the dev server with a half-written asset manifest.
        assets = self.root / "app"
        if (APP_DIR / "index.html").is_file():
            shutil.copytree(APP_DIR, assets)
        else:
            assets.mkdir()
        self.port = free_port()
        command = [
            str(WRANGLER), "dev", "--ip", "127.0.0.1", "--port", str(self.port),
            "--inspector-port", str(free_port()), "--persist-to", str(self.root / "state"),
            "--assets", str(assets), "--show-interactive-dev-session=false",
            "--log-level", "warn",
        ]  # fmt: skip
        for name, value in self.variables.items():
            command += ["--var", f"{name}:{value}"]
        env = {
            **os.environ,
            "WRANGLER_SEND_METRICS": "false",
            "CI": "true",
            "XDG_CONFIG_HOME": str(self.root / "config"),
        }
        self.log = (self.root / "wrangler.log").open("wb")
        self.proc = subprocess.Popen(
            command, cwd=RELAY_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_healthy()
        return self.url

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"wrangler dev exited:\n{self.output()}")
            try:
                r = httpx.get(f"{self.url}/v1/health", timeout=2)
                if r.status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"wrangler dev did not answer within {START_TIMEOUT}s:\n{self.output()}")

    def output(self) -> str:
        path = self.root / "wrangler.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if getattr(self, "log", None) is not None:
            self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
