"""Helpers for end-to-end mesh tests: daemons in their own LOOPSY_HOMEs (peer listener on
127.0.0.1, any free port) and interactive `loopsy` processes read line by line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from loopsy.config import default_config, save_config
from loopsy.home import LoopsyHome
from tests.conftest import Cli


def mesh_home(root: Path, name: str) -> LoopsyHome:
    home = LoopsyHome(root / name)
    config = default_config(home)
    config.node.name = name
    config.mesh.listen = True
    config.mesh.host = "127.0.0.1"
    config.mesh.port = 0
    config.mesh.health_interval = 3600.0
    save_config(home, config)
    return home


class Interactive:
    """A `loopsy` process whose stdout and stderr lines are read as they come."""

    def __init__(self, cli: Cli, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loopsy", *args],
            env=cli.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.text = ""  # everything printed so far, stdout and stderr interleaved
        self.pos = 0  # where the next expect() starts looking
        self.changed = threading.Condition()
        for stream in (self.proc.stdout, self.proc.stderr):
            assert stream is not None
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    @property
    def seen(self) -> str:
        return self.text

    def _pump(self, stream: IO[str]) -> None:
        # char by char: prompts end without a newline
        while chunk := stream.read(1):
            with self.changed:
                self.text += chunk
                self.changed.notify_all()

    def expect(self, pattern: str, timeout: float = 30, *, anywhere: bool = False) -> re.Match[str]:
        """Wait for ``pattern`` after the last match (``anywhere``: in all the output, for
        text on the other stream, whose order against this one is not defined)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = re.compile(pattern).search(self.text, 0 if anywhere else self.pos)
                if found:
                    self.pos = found.end()
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no text matching {pattern!r}; saw {self.text!r}")
                self.changed.wait(left)

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def finish(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def pair_with_cli(a: Cli, b: Cli) -> str:
    """`loopsy pair` on A, `loopsy pair HOST:PORT` on B, the code typed on B, yes on A."""
    waiting = Interactive(a, "pair", "--timeout", "60")
    joining: Interactive | None = None
    try:
        address = waiting.expect(r"loopsy pair (127\.0\.0\.1:\d+)").group(1)
        joining = Interactive(b, "pair", address)
        confirm_code(waiting, joining)
        joining.expect("Paired with", timeout=5)
        return address
    finally:
        waiting.kill()
        if joining is not None:
            joining.kill()


def confirm_code(waiting: Interactive, joining: Interactive) -> None:
    """The code the waiting machine shows, typed on the joining one, and yes on the waiting
    one; both commands then end successfully."""
    code = waiting.expect(r"Pairing code:\s+(\d{3}) (\d{3})")
    joining.expect(r"Type the code")
    joining.send(code.group(1) + code.group(2) + "\n")
    waiting.expect(r"\[y/N\]", anywhere=True)
    waiting.send("y\n")
    assert joining.finish() == 0, joining.seen
    assert waiting.finish() == 0, waiting.seen


def env_for(home: LoopsyHome) -> dict[str, str]:
    return {**os.environ, "LOOPSY_HOME": str(home.root), "PYTHONUNBUFFERED": "1"}
