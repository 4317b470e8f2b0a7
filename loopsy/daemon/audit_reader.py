"""Reading ``logs/audit.jsonl`` and its rotated files, newest first.

``GET /audit?limit=20`` must not parse 60 MB of history to show 20 lines: files are read
from their end, a block at a time, newest file first, and reading stops as soon as enough
records matched (or a record older than ``since`` appears: records are written in time
order). A torn last line after a crash is skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from loopsy.daemon.audit import AuditLog

BLOCK = 64 * 1024


def audit_files(audit: AuditLog) -> list[Path]:
    """The live file, then ``.1`` (the most recently rotated), ``.2``, ... oldest last."""
    name = audit.path.name
    return [audit.path] + [audit.path.with_name(f"{name}.{i}") for i in range(1, audit.keep + 1)]


def recent(
    audit: AuditLog,
    matches: Callable[[dict[str, Any]], bool],
    limit: int,
    since: float | None = None,
) -> list[dict[str, Any]]:
    """The newest ``limit`` records that ``matches`` accepts, oldest first."""
    found: list[dict[str, Any]] = []
    for path in audit_files(audit):
        for line in reverse_lines(path):
            record = _parse(line)
            if record is None:
                continue
            ts = record.get("ts")
            if since is not None and isinstance(ts, int | float) and ts < since:
                found.reverse()
                return found
            if matches(record):
                found.append(record)
                if len(found) >= limit:
                    found.reverse()
                    return found
    found.reverse()
    return found


def reverse_lines(path: Path, block: int = BLOCK) -> Iterator[bytes]:
    """The file's lines, last first, read a block at a time from the end."""
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed in finally; a generator outlives a with)
    except FileNotFoundError:
        return
    try:
        position = os.fstat(f.fileno()).st_size
        tail = b""
        while position > 0:
            step = min(block, position)
            position -= step
            f.seek(position)
            chunk = f.read(step) + tail
            lines = chunk.split(b"\n")
            tail = lines[0]  # may continue in the block before this one
            for line in reversed(lines[1:]):
                if line.strip():
                    yield line
        if tail.strip():
            yield tail
    finally:
        f.close()


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None  # a torn line (a crash mid-write) or foreign bytes
    return record if isinstance(record, dict) else None
