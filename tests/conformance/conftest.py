"""The relay conformance suite runs against any relay, given its base URL:

    LOOPSY_RELAY_URL=http://127.0.0.1:8787 pytest tests/conformance

Without it, each test session starts `loopsy relay serve` on a free loopback port. The
tests speak only the wire protocol of docs/PROTOCOL.md (HTTP, WebSockets, bytes built
here with struct), so the same suite checks the Cloudflare Worker under `wrangler dev`.
The relay under test must allow ~100 device registrations per minute from 127.0.0.1; set
LOOPSY_RELAY_REGISTRATION_SECRET if it requires one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.relayclient import RelayClient, wait_for_listening_line


@pytest.fixture(scope="session")
def relay_url() -> Iterator[str]:
    url = os.environ.get("LOOPSY_RELAY_URL")
    if url:
        yield url.rstrip("/")
        return
    root = Path(tempfile.mkdtemp(prefix="lr-", dir="/tmp"))
    env = {**os.environ, "LOOPSY_HOME": str(root / "home")}
    env.pop("LOOPSY_RELAY_REGISTRATION_SECRET", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loopsy",
            "relay",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(root / "relay"),
            "--register-rate",
            "1000",
            "--max-pair-ttl",
            "600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        yield wait_for_listening_line(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def relay(relay_url: str) -> RelayClient:
    return RelayClient(relay_url, os.environ.get("LOOPSY_RELAY_REGISTRATION_SECRET"))
