"""Programs as the policy sees them: where ``execvp`` would find one, what file it really
is (every symlink resolved, and its device and inode, so hard links match), and script
files read without ever blocking on a FIFO or device.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from loopsy.daemon.execute.wrappers import MULTI_CALL

MAX_SCRIPT_BYTES = 1 << 20


@dataclass(frozen=True)
class Program:
    invoked: str  # the name as written (its last path component)
    path: str | None  # where lookup found it; None when nowhere
    real: str | None  # ``path`` with every symlink resolved

    @property
    def real_name(self) -> str | None:
        return os.path.basename(self.real) if self.real else None


def find_program(word: str, *, cwd: str, path_var: str) -> str | None:
    """Where ``execvp`` would find ``word``: a path as written, or the first executable
    file of that name on ``path_var``; None if there is none."""
    if "/" in word:
        candidate = word if os.path.isabs(word) else os.path.join(cwd, word)
        return candidate if is_executable(candidate) else None
    for directory in path_var.split(os.pathsep):
        base = directory or "."
        candidate = os.path.join(base if os.path.isabs(base) else os.path.join(cwd, base), word)
        if is_executable(candidate):
            return candidate
    return None


def is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def identity(path: str) -> tuple[int, int] | None:
    """(device, inode): the same for every name of one file, hard links included."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def identities(
    names: Sequence[str], search_path: str, *, multi_call: bool
) -> dict[tuple[int, int], str]:
    """The files that ``names`` (program names looked up on ``search_path``, or absolute
    paths) really are, each mapped back to its entry; names found nowhere are left out."""
    found: dict[tuple[int, int], str] = {}
    for name in names:
        path = name if os.path.isabs(name) else find_program(name, cwd="/", path_var=search_path)
        if path is None:
            continue
        real = os.path.realpath(path)
        if not multi_call and os.path.basename(real) in MULTI_CALL:
            continue  # rm -> busybox: denying busybox's file would deny every applet
        file_id = identity(real)
        if file_id is not None:
            found.setdefault(file_id, name)
    return found


def read_script(path: str, cwd: str) -> str | None:
    """A script's text if it is a readable regular file of sane size, else None (never
    opens a FIFO or device, which could block)."""
    full = path if os.path.isabs(path) else os.path.join(cwd, path)
    try:
        st = os.stat(full)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SCRIPT_BYTES:
            return None
        with open(full, "rb") as f:
            return f.read(MAX_SCRIPT_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
