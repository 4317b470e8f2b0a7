"""The benchmarks still run (figures are not checked here: they belong in BENCHMARKS.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_pty_bench_quick_raw() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pty.py"), "--quick", "--only", "raw",
         "--payload-mb", "2"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("| raw PTY read"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2] == "1.00"  # the baseline's own ratio
    assert cells[4] == "yes"  # every byte counted exactly
    assert cells[9] == "0"  # nothing lost at exit


@pytest.mark.slow
def test_terminal_bench_quick() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "terminal.py"), "--quick", "--no-pyte"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "| base64 lines (cat) | 4 KB |" in done.stdout
    assert "Snapshot of a 200x50" in done.stdout
