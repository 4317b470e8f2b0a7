"""What the browser tests run against: a real daemon (``loopsy start``) with a private
LOOPSY_HOME, connected to a real relay (``loopsy relay serve`` serving mobile_web/dist) or
to the relay at $LOOPSY_BROWSER_RELAY_URL (e.g. the Cloudflare Worker in ``wrangler dev``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from loopsy.home import LoopsyHome
from tests.helpers.sessions import kill_holders
from tests.relay_process import RelayProcess

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "mobile_web" / "dist"
FAKE_CLAUDE = """#!/bin/sh
# A stand-in for Claude Code: answers --version, says whether it got the auto-approve
# flag, then echoes its input.
if [ "$1" = "--version" ]; then echo "9.9.9 (Claude Code, test double)"; exit 0; fi
case " $* " in
  *" --dangerously-skip-permissions "*) echo "fake-claude: no prompts" ;;
  *) echo "fake-claude: prompts" ;;
esac
exec cat
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lb-", dir="/tmp"))
        self.home = self.root / "home"
        self.bin = self.root / "bin"
        self.bin.mkdir()
        claude = self.bin / "claude"
        claude.write_text(FAKE_CLAUDE)
        claude.chmod(0o755)
        self.env = {
            **os.environ,
            "LOOPSY_HOME": str(self.home),
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "SHELL": "/bin/bash",
            "PYTHONUNBUFFERED": "1",
        }
        external = os.environ.get("LOOPSY_BROWSER_RELAY_URL", "").rstrip("/")
        self.relay: RelayProcess | None = None
        if external:
            self.relay_url = external
        else:
            if not (APP_DIR / "index.html").is_file():
                raise RuntimeError("mobile_web/dist is not built: run scripts/setup")
            self.relay = RelayProcess("--register-rate", "100", "--app-dir", str(APP_DIR))
            self.relay_url = self.relay.start()
        self.port = free_port()

    def loopsy(self, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "loopsy", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"loopsy {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.loopsy(*args, "--json"))

    def start(self) -> None:
        self.loopsy("start", "--port", str(self.port))
        self.loopsy("relay", "configure", self.relay_url)
        self.wait_relay_link()

    def wait_relay_link(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.json("relay", "status").get("connected"):
            if time.monotonic() > deadline:
                raise AssertionError("the daemon did not connect to the relay")
            time.sleep(0.1)

    def pair_offer(self, ttl: int = 300) -> dict[str, Any]:
        offer: dict[str, Any] = self.json("mobile", "pair", "--no-wait", "--ttl", str(ttl))
        return offer

    def restart_relay(self) -> None:
        assert self.relay is not None, "an external relay cannot be restarted from here"
        self.relay.restart()

    def close(self) -> None:
        try:
            subprocess.run(
                [sys.executable, "-m", "loopsy", "stop"],
                env=self.env,
                capture_output=True,
                timeout=30,
                check=False,
            )
        finally:
            kill_holders(LoopsyHome(self.home))
            if self.relay is not None:
                self.relay.cleanup()
            shutil.rmtree(self.root, ignore_errors=True)
