"""Test helpers for sessions: end every holder a test left behind, wait for conditions."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from loopsy.home import LoopsyHome

T = TypeVar("T")


def kill_holders(home: LoopsyHome) -> None:
    """SIGKILL every session holder (and its program's group) recorded under ``home``:
    holders outlive the daemon by design, so tests must end them."""
    for meta_path in Path(home.sessions_dir).glob("*/meta.json"):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        child = meta.get("child_pid")
        holder = meta.get("holder_pid")
        if isinstance(child, int) and child > 1:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child, signal.SIGKILL)
        if isinstance(holder, int) and holder > 1 and _is_holder(holder):
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder, signal.SIGKILL)


def _is_holder(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"loopsy" in f.read()
    except OSError:
        return False


def pid_gone(pid: int) -> bool:
    """True once ``pid`` is no process (or only a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in (b"Z", b"X")


def child_named(parent: int, name: str) -> int | None:
    """The pid of a child of ``parent`` whose command name is ``name``, if there is one."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and comm == name:
            return int(entry.name)
    return None


def wait_for(check: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll ``check`` (a cheap local check, e.g. /proc) until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def gated(command: str, fifo: Path) -> list[str]:
    """argv running ``command`` only once :func:`release` writes to ``fifo``: a session runs
    from its creation, so a test that must see every byte attaches first, then releases."""
    os.mkfifo(fifo, 0o600)
    return ["/bin/sh", "-c", f"read _ < '{fifo}'; {command}"]


def release(fifo: Path) -> None:
    """Start a :func:`gated` command (blocks until its shell opens the FIFO)."""
    with open(fifo, "w") as gate:
        gate.write("go\n")


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` (VmRSS) in KiB."""
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:")


def pss_kb(pid: int) -> int:
    """Proportional set size of ``pid`` in KiB (shared pages split between sharers)."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def _proc_kb(path: str, key: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise AssertionError(f"no {key} in {path}")


def payload(size: int, seed: int) -> bytes:
    """``size``-ish bytes of base64 lines (76 characters + LF) from a seeded generator."""
    import base64
    import random

    raw = random.Random(seed).randbytes(size // 77 * 57)
    return base64.encodebytes(raw)
