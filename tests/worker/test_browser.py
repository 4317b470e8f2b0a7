"""The phone engineer's browser test of the first-run path (pair, shell, vim) once against
the Worker relay in `wrangler dev`, serving the same built phone client at /app."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.worker.wrangler import APP_DIR

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TESTS = [
    "tests/browser/test_pair_and_shell.py::test_pair_then_shell_echo_and_vim",
    "tests/browser/test_pair_and_shell.py::test_wrong_code_counts_and_used_link_is_refused",
]


def test_browser_pairs_and_drives_a_shell_through_the_worker(worker_url: str) -> None:
    assert (APP_DIR / "index.html").is_file(), "mobile_web/dist is not built: run scripts/setup"
    env = {**os.environ, "LOOPSY_BROWSER_RELAY_URL": worker_url}
    command = [sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout
