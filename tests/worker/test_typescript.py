"""The Worker's own checks, run by CI through pytest: the TypeScript type check and the
Durable Object unit tests (vitest in the Workers runtime, @cloudflare/vitest-pool-workers)."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.worker.wrangler import RELAY_DIR

pytestmark = pytest.mark.slow

BIN = RELAY_DIR / "node_modules" / ".bin"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    assert (BIN / command[0]).exists(), "relay/node_modules is missing: run scripts/setup"
    env = {**os.environ, "WRANGLER_SEND_METRICS": "false", "CI": "true", "NO_COLOR": "1"}
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=RELAY_DIR, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_worker_type_checks() -> None:
    done = run("tsc", "--noEmit")
    assert done.returncode == 0, done.stdout + done.stderr


def test_durable_object_unit_tests_pass() -> None:
    done = run("vitest", "run", "--reporter=dot")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "passed" in done.stdout
