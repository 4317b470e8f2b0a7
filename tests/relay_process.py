"""A real `loopsy relay serve` process on loopback, restartable on the same port and data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


class RelayProcess:
    def __init__(self, *extra: str, env: dict[str, str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="lr-", dir="/tmp"))
        self.extra_env = dict(env or {})
        self.data_dir = self.root / "relay"
        self.extra = list(extra)
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        env = {**os.environ, "LOOPSY_HOME": str(self.root / "home"), **self.extra_env}
        command = [sys.executable, "-m", "loopsy", "relay", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), *self.extra]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"relay did not start: {line!r} {err}")
        self.url = line.rsplit(" ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        return self.url

    def stop(self, *, kill: bool = False) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if kill:
            proc.kill()
        else:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()

    def restart(self) -> None:
        self.stop(kill=True)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
